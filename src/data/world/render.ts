// Scene layout and rasterisation for the procedural world. Objects are painted far to near, so
// the colour, the instance id and the depth at a pixel all come from the nearest object covering
// it: occlusion, masks and depth agree by construction.

import { Rng } from '../rng'
import type { ImageCHW } from '../types'
import { COLOURS, SHAPE_NAMES, TEXTURE_NAMES } from './concepts'
import { SHAPE_TESTS, TEXTURE_TESTS } from './shapes'

/** Near and far limits of object depth (metres); the background lies beyond FAR. */
export const NEAR = 2
export const FAR = 7
const BACKGROUND_NEAR = 9
const BACKGROUND_FAR = 16

export interface SceneObject {
  shape: number
  colour: number
  texture: number
  /** Physical size; apparent radius = focal * size / depth. */
  size: number
  depth: number
  cx: number
  cy: number
  radius: number
  rotation: number
}

/** An object after rendering, with what the image shows of it. */
export interface RenderedObject extends SceneObject {
  /** Amodal box clipped to the image, pixel xyxy with exclusive x2/y2. */
  box: [number, number, number, number]
  amodalArea: number
  visibleArea: number
  visibility: number
}

export type BackgroundKind = 'gradient' | 'clouds' | 'tiles' | 'bands' | 'fashion'

export interface RenderedScene {
  image: ImageCHW
  objects: RenderedObject[]
  /** Index into objects of the visible object at each pixel, -1 for background. */
  instanceMap: Int16Array
  depth: Float32Array
  background: BackgroundKind
}

export interface SceneOptions {
  height: number
  width: number
  minObjects: number
  maxObjects: number
  /** Zipf exponent over shapes: 0 gives uniform shapes, 1-2 a long tail. */
  longTail: number
  /** Fashion-MNIST images [n, 28, 28] to texture objects and background with, or null. */
  fashion: Uint8Array | null
}

export function sampleScene(rng: Rng, o: SceneOptions): SceneObject[] {
  const n = rng.int(o.minObjects, o.maxObjects + 1)
  const scale = Math.min(o.height, o.width)
  const objects: SceneObject[] = []
  for (let k = 0; k < n; k++) {
    const size = rng.uniform(1, 1.6)
    const depth = rng.uniform(NEAR, FAR)
    objects.push({
      shape: sampleShape(rng, o.longTail),
      colour: rng.int(0, COLOURS.length),
      texture: rng.int(0, TEXTURE_NAMES.length),
      size,
      depth,
      cx: rng.uniform(0.1, 0.9) * o.width,
      cy: rng.uniform(0.1, 0.9) * o.height,
      radius: Math.max(3, (0.4 * scale * size) / depth),
      rotation: rng.uniform(0, 2 * Math.PI),
    })
  }
  return objects
}

const zipfCache = new Map<number, Float64Array>()

function sampleShape(rng: Rng, alpha: number): number {
  if (alpha === 0) return rng.int(0, SHAPE_NAMES.length)
  let cdf = zipfCache.get(alpha)
  if (!cdf) {
    const w = SHAPE_NAMES.map((_, i) => 1 / (i + 1) ** alpha)
    const total = w.reduce((a, b) => a + b, 0)
    cdf = new Float64Array(w.length)
    let acc = 0
    w.forEach((x, i) => {
      acc += x / total
      cdf![i] = acc
    })
    zipfCache.set(alpha, cdf)
  }
  const u = rng.next()
  for (let i = 0; i < cdf.length; i++) if (u < cdf[i]) return i
  return cdf.length - 1
}

export function renderScene(rng: Rng, scene: SceneObject[], o: SceneOptions): RenderedScene {
  const { height: H, width: W } = o
  const plane = H * W
  const data = new Float32Array(3 * plane)
  const depth = new Float32Array(plane)
  const instanceMap = new Int16Array(plane).fill(-1)
  const background = paintBackground(rng, data, H, W, o.fashion)
  for (let y = 0; y < H; y++) {
    // A tilted plane: farther towards the top, always behind every object.
    const d = BACKGROUND_NEAR + (BACKGROUND_FAR - BACKGROUND_NEAR) * (1 - (y + 0.5) / H)
    depth.fill(d, y * W, (y + 1) * W)
  }
  const haze = [0.78, 0.8, 0.84]
  const order = scene.map((_, i) => i).sort((a, b) => scene[b].depth - scene[a].depth)
  const boxes = scene.map(() => [Infinity, Infinity, -Infinity, -Infinity])
  const amodal = new Float64Array(scene.length)
  for (const k of order) {
    const ob = scene[k]
    const inside = SHAPE_TESTS[ob.shape]
    const pattern = TEXTURE_TESTS[ob.texture]
    const cos = Math.cos(ob.rotation)
    const sin = Math.sin(ob.rotation)
    const inv = 1 / ob.radius
    const base = COLOURS[ob.colour].rgb.map((c) => clamp01(c + rng.uniform(-0.04, 0.04)))
    const fog = (0.3 * (ob.depth - NEAR)) / (FAR - NEAR)
    const fm = o.fashion ? o.fashion.subarray(rng.int(0, o.fashion.length / 784) * 784) : null
    const x0 = Math.floor(ob.cx - ob.radius)
    const x1 = Math.ceil(ob.cx + ob.radius)
    const y0 = Math.floor(ob.cy - ob.radius)
    const y1 = Math.ceil(ob.cy + ob.radius)
    const box = boxes[k]
    let area = 0
    // The full (unclipped) extent is scanned so that truncation counts against visibility.
    for (let y = y0; y <= y1; y++) {
      const dy = y + 0.5 - ob.cy
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - ob.cx
        const u = (cos * dx + sin * dy) * inv
        const v = (-sin * dx + cos * dy) * inv
        if (!inside(u, v)) continue
        area++
        if (x < 0 || y < 0 || x >= W || y >= H) continue
        if (x < box[0]) box[0] = x
        if (y < box[1]) box[1] = y
        if (x + 1 > box[2]) box[2] = x + 1
        if (y + 1 > box[3]) box[3] = y + 1
        let tone = pattern(u, v) ? 0.45 : 1
        tone *= 0.78 + 0.22 * Math.max(0, 1 - (u * u + v * v))
        if (fm) {
          const fx = Math.min(27, Math.max(0, Math.floor((u + 1) * 14)))
          const fy = Math.min(27, Math.max(0, Math.floor((v + 1) * 14)))
          tone *= 0.35 + (0.65 * fm[fy * 28 + fx]) / 255
        }
        const p = y * W + x
        for (let c = 0; c < 3; c++) data[c * plane + p] = (1 - fog) * base[c] * tone + fog * haze[c]
        instanceMap[p] = k
        depth[p] = ob.depth
      }
    }
    amodal[k] = area
  }
  const visible = new Float64Array(scene.length)
  for (let p = 0; p < plane; p++) if (instanceMap[p] >= 0) visible[instanceMap[p]]++
  // Objects hidden entirely are not in the image, so they are not in its ground truth either.
  const keep = scene.map((_, k) => k).filter((k) => visible[k] > 0)
  const remap = new Int16Array(scene.length).fill(-1)
  keep.forEach((k, i) => (remap[k] = i))
  for (let p = 0; p < plane; p++) if (instanceMap[p] >= 0) instanceMap[p] = remap[instanceMap[p]]
  const objects: RenderedObject[] = keep.map((k) => ({
    ...scene[k],
    box: boxes[k] as [number, number, number, number],
    amodalArea: amodal[k],
    visibleArea: visible[k],
    visibility: visible[k] / Math.max(1, amodal[k]),
  }))
  return { image: { data, channels: 3, height: H, width: W }, objects, instanceMap, depth, background }
}

function paintBackground(
  rng: Rng,
  data: Float32Array,
  H: number,
  W: number,
  fashion: Uint8Array | null,
): BackgroundKind {
  const plane = H * W
  const muted = (): number[] => [0, 1, 2].map(() => 0.5 * rng.uniform(0.2, 0.85) + 0.25)
  const a = muted()
  const b = muted()
  const kind: BackgroundKind = fashion ? 'fashion' : rng.pick(['gradient', 'clouds', 'tiles', 'bands'] as const)
  const angle = rng.uniform(0, 2 * Math.PI)
  const ca = Math.cos(angle)
  const sa = Math.sin(angle)
  const cells = rng.int(3, 7)
  const noise = Float32Array.from({ length: 25 }, () => rng.next())
  const fm = fashion ? fashion.subarray(rng.int(0, fashion.length / 784) * 784) : null
  const tiles = rng.int(1, 3)
  for (let y = 0; y < H; y++) {
    const ny = (y + 0.5) / H
    for (let x = 0; x < W; x++) {
      const nx = (x + 0.5) / W
      let t: number
      if (kind === 'gradient') t = clamp01(0.5 + (nx - 0.5) * ca + (ny - 0.5) * sa)
      else if (kind === 'tiles') t = (Math.floor(nx * cells) + Math.floor(ny * cells)) & 1 ? 0.75 : 0.25
      else if (kind === 'bands') t = 0.5 + 0.5 * Math.sin(((nx * ca + ny * sa) * cells + 0.3) * Math.PI)
      else if (kind === 'clouds') t = valueNoise(noise, nx * 4, ny * 4)
      else {
        const fx = Math.floor(((nx * tiles) % 1) * 28)
        const fy = Math.floor(((ny * tiles) % 1) * 28)
        t = (fm as Uint8Array)[fy * 28 + fx] / 255
      }
      const p = y * W + x
      for (let c = 0; c < 3; c++) data[c * plane + p] = a[c] * (1 - t) + b[c] * t
    }
  }
  return kind
}

/** Bilinear interpolation over a 5x5 grid of random values (coordinates in [0, 4]). */
function valueNoise(grid: Float32Array, x: number, y: number): number {
  const ix = Math.min(3, Math.floor(x))
  const iy = Math.min(3, Math.floor(y))
  const fx = x - ix
  const fy = y - iy
  const sx = fx * fx * (3 - 2 * fx)
  const sy = fy * fy * (3 - 2 * fy)
  const g = (i: number, j: number): number => grid[j * 5 + i]
  const top = g(ix, iy) * (1 - sx) + g(ix + 1, iy) * sx
  const bottom = g(ix, iy + 1) * (1 - sx) + g(ix + 1, iy + 1) * sx
  return top * (1 - sy) + bottom * sy
}

export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x
}
