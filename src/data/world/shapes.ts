// Inside tests for the world's shapes in object-local coordinates, where every shape fits the
// unit disc. Rasterising by testing pixel centres gives exact masks (no anti-aliasing), so boxes,
// masks, classes and depth agree pixel for pixel.

type Point = [number, number]

function regularPolygon(n: number, phase: number): Point[] {
  return Array.from({ length: n }, (_, k) => {
    const a = phase + (2 * Math.PI * k) / n
    return [Math.cos(a), Math.sin(a)] as Point
  })
}

function starPolygon(points: number, inner: number): Point[] {
  return Array.from({ length: 2 * points }, (_, k) => {
    const a = -Math.PI / 2 + (Math.PI * k) / points
    const r = k % 2 === 0 ? 1 : inner
    return [r * Math.cos(a), r * Math.sin(a)] as Point
  })
}

/** Even-odd rule; fine for the small simple polygons here. */
function insidePolygon(poly: Point[], u: number, v: number): boolean {
  let inside = false
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]
    const [xj, yj] = poly[j]
    if (yi > v !== yj > v && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside
  }
  return inside
}

const TRIANGLE = regularPolygon(3, -Math.PI / 2)
const SQUARE = regularPolygon(4, Math.PI / 4)
const PENTAGON = regularPolygon(5, -Math.PI / 2)
const HEXAGON = regularPolygon(6, 0)
const STAR = starPolygon(5, 0.42)
const ARROW: Point[] = [
  [-0.95, -0.22],
  [0.15, -0.22],
  [0.15, -0.6],
  [0.95, 0],
  [0.15, 0.6],
  [0.15, 0.22],
  [-0.95, 0.22],
]

export type InsideTest = (u: number, v: number) => boolean

/** Inside tests indexed like SHAPE_NAMES. */
export const SHAPE_TESTS: InsideTest[] = [
  (u, v) => u * u + v * v <= 1, // circle
  (u, v) => {
    const r2 = u * u + v * v
    return r2 <= 1 && r2 >= 0.36
  }, // ring
  (u, v) => u * u + (v * v) / 0.3 <= 1, // ellipse
  (u, v) => u * u + v * v <= 1 && (u - 0.45) ** 2 + (v + 0.1) ** 2 >= 0.64, // crescent
  (u, v) => insidePolygon(TRIANGLE, u, v),
  (u, v) => insidePolygon(SQUARE, u, v),
  (u, v) => insidePolygon(PENTAGON, u, v),
  (u, v) => insidePolygon(HEXAGON, u, v),
  (u, v) => insidePolygon(STAR, u, v),
  (u, v) => (Math.abs(u) <= 0.3 && Math.abs(v) <= 0.95) || (Math.abs(v) <= 0.3 && Math.abs(u) <= 0.95),
  (u, v) => {
    // The classic heart curve (x^2 + y^2 - 1)^3 <= x^2 y^3, scaled into the unit disc, y up.
    // The renderer scans only the unit disc's square, so the curve must stay inside it.
    if (u * u + v * v > 1) return false
    const x = u * 1.25
    const y = -v * 1.25 + 0.15
    const a = x * x + y * y - 1
    return a * a * a - x * x * y * y * y <= 0
  },
  (u, v) => insidePolygon(ARROW, u, v),
]

/** Two-tone texture patterns in object-local coordinates: true selects the darker tone. */
export const TEXTURE_TESTS: InsideTest[] = [
  () => false, // plain
  (u) => (((u * 2.6) % 1) + 1) % 1 < 0.5, // striped
  (u, v) => {
    const fu = (((((u + 1) * 2.5) % 1) + 1) % 1) - 0.5
    const fv = (((((v + 1) * 2.5) % 1) + 1) % 1) - 0.5
    return fu * fu + fv * fv < 0.09
  }, // dotted
  (u, v) => ((Math.floor((u + 1) * 2.2) + Math.floor((v + 1) * 2.2)) & 1) === 1, // checkered
]
