// Fills a COCO polygon [x0, y0, x1, y1, ...] into an H*W mask, testing pixel centres (even-odd).

export function rasterisePolygon(poly: number[], mask: Uint8Array, H: number, W: number): void {
  const n = Math.floor(poly.length / 2)
  if (n < 3) return
  for (let y = 0; y < H; y++) {
    const cy = y + 0.5
    for (let x = 0; x < W; x++) {
      const cx = x + 0.5
      let inside = false
      for (let i = 0, j = n - 1; i < n; j = i++) {
        const xi = poly[2 * i]
        const yi = poly[2 * i + 1]
        const xj = poly[2 * j]
        const yj = poly[2 * j + 1]
        if (yi > cy !== yj > cy && cx < ((xj - xi) * (cy - yi)) / (yj - yi) + xi) inside = !inside
      }
      if (inside) mask[y * W + x] = 1
    }
  }
}
