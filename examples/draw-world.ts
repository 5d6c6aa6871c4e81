// Draws generated world scenes with their ground truth to a PNG a person can check by eye:
// per row, the image with boxes (white = counted, grey dashed = ignored), the instance masks,
// the per-pixel classes, the depth (near = bright, holes = black), and the caption.
//
//   npx tsx examples/draw-world.ts [out.png] [seed]

import sharp from 'sharp'
import { data } from 'intern-vision'

const { WORLD_DOMAINS, worldDataset, fashionMnistAvailable } = data
type WorldDomain = (typeof WORLD_DOMAINS)[number]

const SCALE = 3
const SIDE = 64
const PANEL = SIDE * SCALE
const GAP = 6
const CAPTION = 34

const PALETTE: [number, number, number][] = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
  [0, 128, 128],
  [170, 110, 40],
  [128, 0, 0],
  [170, 255, 195],
]

async function main(): Promise<void> {
  const out = process.argv[2] ?? 'world.png'
  const seed = Number(process.argv[3] ?? 7)
  const domains = WORLD_DOMAINS.filter((d) => d !== 'fashion' || fashionMnistAvailable()) as WorldDomain[]
  const rows = domains.length
  const width = 4 * PANEL + 5 * GAP
  const height = rows * (PANEL + CAPTION) + GAP
  const canvas = new Uint8Array(width * height * 3).fill(24)
  const captions: { x: number; y: number; text: string }[] = []
  for (let r = 0; r < rows; r++) {
    const ds = worldDataset({ size: 64, seed, imageSize: SIDE, domains: [domains[r]], split: 'val' })
    const index = r
    const sample = ds.get(index)
    const scene = ds.scene(index)
    const objects = sample.objects!
    const n = objects.labels.length
    const y0 = GAP + r * (PANEL + CAPTION)
    const plane = SIDE * SIDE
    const put = (panel: number, x: number, y: number, rgb: readonly number[]): void => {
      const px = GAP + panel * (PANEL + GAP)
      for (let dy = 0; dy < SCALE; dy++) {
        for (let dx = 0; dx < SCALE; dx++) {
          const o = ((y0 + y * SCALE + dy) * width + px + x * SCALE + dx) * 3
          canvas[o] = rgb[0]
          canvas[o + 1] = rgb[1]
          canvas[o + 2] = rgb[2]
        }
      }
    }
    let maxDepth = 0
    for (let p = 0; p < plane; p++) maxDepth = Math.max(maxDepth, sample.depth![p])
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const p = y * SIDE + x
        const img = sample.image.data
        put(0, x, y, [img[p] * 255, img[plane + p] * 255, img[2 * plane + p] * 255])
        const k = scene.instanceMap[p]
        const grey = [img[p] * 80, img[plane + p] * 80, img[2 * plane + p] * 80]
        put(1, x, y, k >= 0 ? PALETTE[k % PALETTE.length] : grey)
        const cls = sample.segmentation![p]
        put(2, x, y, cls === 255 ? [255, 255, 255] : cls === 0 ? [0, 0, 0] : PALETTE[(cls - 1) % PALETTE.length])
        const d = sample.depth![p]
        const v = sample.depthValid![p] ? 255 * (1 - d / (maxDepth * 1.05)) : 0
        put(3, x, y, [v, v * 0.85, v * 0.6])
      }
    }
    // Boxes on the image panel, drawn at display resolution.
    for (let k = 0; k < n; k++) {
      const [bx0, by0, bx1, by1] = Array.from(objects.boxes.subarray(4 * k, 4 * k + 4), (v) => v * SCALE)
      const ignored = objects.ignore[k] === 1
      const colour = ignored ? [150, 150, 150] : [255, 255, 255]
      const px = GAP
      const dot = (x: number, y: number, i: number): void => {
        if (ignored && (i >> 2) % 2 === 1) return
        const o = ((y0 + y) * width + px + x) * 3
        canvas.set(colour, o)
      }
      for (let x = bx0; x < bx1; x++) {
        dot(x, by0, x)
        dot(x, by1 - 1, x)
      }
      for (let y = by0; y < by1; y++) {
        dot(bx0, y, y)
        dot(bx1 - 1, y, y)
      }
    }
    captions.push({ x: GAP, y: y0 + PANEL + 14, text: `[${domains[r]}] ${sample.caption}` })
    captions.push({
      x: GAP,
      y: y0 + PANEL + 28,
      text: `labels: ${Object.entries(sample.labels!)
        .map(([k, v]) => `${k}=${ds.info.labelSpaces[k].classes[v]}`)
        .join(' ')}`,
    })
  }
  const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${captions
    .map(
      (c) => `<text x="${c.x}" y="${c.y}" font-family="sans-serif" font-size="12" fill="#eee">${escape(c.text)}</text>`,
    )
    .join('')}</svg>`
  await sharp(canvas, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toFile(out)
  console.log(
    `wrote ${out} (${width}x${height}): ${rows} scenes, one per domain; columns: image+boxes, instances, classes, depth`,
  )
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
