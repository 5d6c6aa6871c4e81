import t from 'tap'
import { fashionMnistAvailable } from '../../src/data/formats/idx'
import { COLOUR_NAMES, SHAPE_NAMES, TEXTURE_NAMES } from '../../src/data/world/concepts'
import { WORLD_DOMAINS } from '../../src/data/world/domains'
import { FAR } from '../../src/data/world/render'
import { SHAPE_TESTS } from '../../src/data/world/shapes'
import { MIN_VISIBILITY, MIN_VISIBLE_PIXELS, worldDataset, type WorldScene } from '../../src/data/world/world'
import type { Sample } from '../../src/data/types'

const SYNTHETIC = WORLD_DOMAINS.filter((d) => d !== 'fashion')
const ds = worldDataset({ size: 120, seed: 11, imageSize: 48, domains: SYNTHETIC })

/** Whether object k's full (amodal) shape covers pixel (x, y), recomputed from its geometry. */
function covers(scene: WorldScene, k: number, x: number, y: number): boolean {
  const o = scene.objects[k]
  const dx = x + 0.5 - o.cx
  const dy = y + 0.5 - o.cy
  const c = Math.cos(o.rotation)
  const s = Math.sin(o.rotation)
  // Same arithmetic as the renderer (multiply by 1/r), so knife-edge pixels agree.
  const inv = 1 / o.radius
  return SHAPE_TESTS[o.shape]((c * dx + s * dy) * inv, (-s * dx + c * dy) * inv)
}

t.test('boxes enclose their masks; masks are disjoint and match visibility', async (t) => {
  let objects = 0
  for (let i = 0; i < ds.length; i++) {
    const s = ds.get(i)
    const scene = ds.scene(i)
    const { height: H, width: W } = s.image
    const o = s.objects!
    const n = o.labels.length
    if (!(n >= 1 && n <= 6)) t.fail(`image ${i} has ${n} objects`)
    const owner = new Int8Array(H * W).fill(-1)
    for (let k = 0; k < n; k++) {
      objects++
      const [x0, y0, x1, y1] = o.boxes.subarray(4 * k, 4 * k + 4)
      if (!(x0 >= 0 && y0 >= 0 && x1 <= W && y1 <= H && x1 > x0 && y1 > y0))
        t.fail(`image ${i} object ${k} box ${[x0, y0, x1, y1]}`)
      let pixels = 0
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          if (!o.masks![k * H * W + y * W + x]) continue
          pixels++
          if (x < x0 || x >= x1 || y < y0 || y >= y1)
            t.fail(`image ${i} object ${k}: mask pixel (${x}, ${y}) outside box`)
          if (owner[y * W + x] >= 0) t.fail(`image ${i}: pixel (${x}, ${y}) in two masks`)
          owner[y * W + x] = k
        }
      }
      if (!(pixels > 0)) t.fail(`image ${i} object ${k} has an empty mask`)
      const ob = scene.objects[k]
      if (!(Math.abs(o.visibility[k] - pixels / ob.amodalArea) < 1e-6)) t.fail(`image ${i} object ${k} visibility`)
      const expectIgnore = o.visibility[k] < MIN_VISIBILITY || pixels < MIN_VISIBLE_PIXELS ? 1 : 0
      if (o.ignore[k] !== expectIgnore) t.fail(`image ${i} object ${k} ignore flag`)
    }
  }
  t.ok(objects > 200, `checked ${objects} objects`)
})

t.test('depth order matches occlusion: the visible object is the nearest covering one', async (t) => {
  let checked = 0
  for (let i = 0; i < 40; i++) {
    const s = ds.get(i)
    const scene = ds.scene(i)
    const { height: H, width: W } = s.image
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const p = y * W + x
        const k = scene.instanceMap[p]
        const covering = scene.objects.map((_, j) => j).filter((j) => covers(scene, j, x, y))
        if (k < 0) {
          if (covering.length > 0)
            t.fail(`image ${i} (${x}, ${y}): background shown where object ${covering[0]} covers`)
          if (s.depthValid![p] && !(s.depth![p] > FAR))
            t.fail(`image ${i} (${x}, ${y}): background depth ${s.depth![p]} not beyond objects`)
          continue
        }
        checked++
        const nearest = covering.reduce(
          (a, b) => (scene.objects[b].depth < scene.objects[a].depth ? b : a),
          covering[0],
        )
        if (nearest !== k) t.fail(`image ${i} (${x}, ${y}): shows object ${k} but ${nearest} is nearer`)
        if (s.depthValid![p] && s.depth![p] !== Math.fround(scene.objects[k].depth))
          t.fail(`image ${i} (${x}, ${y}): depth map disagrees`)
        if (!s.depthValid![p] && s.depth![p] !== 0) t.fail(`image ${i}: invalid depth must be 0`)
      }
    }
  }
  t.ok(checked > 10000, `checked ${checked} object pixels`)
})

t.test('segmentation, labels and count agree with the objects', async (t) => {
  for (let i = 0; i < ds.length; i++) {
    const s = ds.get(i)
    const scene = ds.scene(i)
    const o = s.objects!
    for (let p = 0; p < s.segmentation!.length; p++) {
      const k = scene.instanceMap[p]
      const expected = k < 0 ? 0 : o.ignore[k] ? 255 : o.labels[k] + 1
      if (s.segmentation![p] !== expected) {
        t.fail(`image ${i} pixel ${p}: class ${s.segmentation![p]}, expected ${expected}`)
        break
      }
    }
    const counted = Array.from(o.ignore).filter((v) => v === 0).length
    if (s.labels!.count !== counted) t.fail(`image ${i} count`)
    const shapes = new Set(Array.from(o.labels))
    if (!shapes.has(s.labels!.shape)) t.fail(`image ${i}: image label is not one of its objects`)
  }
  t.same(ds.info.labelSpaces.segmentation.classes.slice(0, 2), ['background', 'circle'])
})

t.test('captions name only objects that are present and counted', async (t) => {
  const shapeSet = new Set(SHAPE_NAMES)
  for (let i = 0; i < ds.length; i++) {
    const s = ds.get(i)
    const scene = ds.scene(i)
    const present = scene.objects.filter((_, k) => s.objects!.ignore[k] === 0)
    const words = s.caption!.replace(/[,:]/g, '').split(' ')
    let named = 0
    words.forEach((w, j) => {
      if (!shapeSet.has(w)) return
      named++
      const shape = SHAPE_NAMES.indexOf(w)
      // The words before the shape: [size] colour [texture].
      let colour = -1
      let texture = 0
      for (let b = j - 1; b >= Math.max(0, j - 3); b--) {
        if (TEXTURE_NAMES.includes(words[b])) texture = TEXTURE_NAMES.indexOf(words[b])
        if (COLOUR_NAMES.includes(words[b])) colour = COLOUR_NAMES.indexOf(words[b])
      }
      const match = present.some((o) => o.shape === shape && o.colour === colour && o.texture === texture)
      if (!match)
        t.fail(
          `image ${i}: caption "${s.caption}" names a ${COLOUR_NAMES[colour]} ${TEXTURE_NAMES[texture]} ${w}, which is not there`,
        )
    })
    if (present.length > 0) if (!(named >= 1)) t.fail(`image ${i}: caption "${s.caption}" names nothing`)
  }
})

t.test('deterministic per index, independent of order, size and other samples', async (t) => {
  const a = worldDataset({ size: 50, seed: 3, imageSize: 32, domains: SYNTHETIC })
  const b = worldDataset({ size: 5000, seed: 3, imageSize: 32, domains: SYNTHETIC })
  const late = a.get(17)
  a.get(3)
  const again = a.get(17)
  t.same(Array.from(late.image.data), Array.from(again.image.data))
  const fromB = b.get(17)
  t.same(fromB, late, 'same sample whatever the dataset size')
  t.not(`${b.get(18).caption}${b.get(18).image.data[100]}`, `${fromB.caption}${fromB.image.data[100]}`)
  const val = worldDataset({ size: 50, seed: 3, imageSize: 32, domains: SYNTHETIC, split: 'val' })
  t.notSame(
    Array.from(val.get(17).image.data.subarray(0, 200)),
    Array.from(late.image.data.subarray(0, 200)),
    'splits differ',
  )
})

t.test('domains change pixels, never ground truth', async (t) => {
  const clean = worldDataset({ size: 10, seed: 5, imageSize: 32, domains: ['clean'] })
  const cleanSample = clean.get(4)
  for (const d of SYNTHETIC.filter((x) => x !== 'clean')) {
    const other = worldDataset({ size: 10, seed: 5, imageSize: 32, domains: [d] }).get(4)
    t.same(other.objects, cleanSample.objects, `${d}: same objects`)
    t.same(other.segmentation, cleanSample.segmentation, `${d}: same classes`)
    t.equal(other.domain, d)
    let diff = 0
    for (let p = 0; p < other.image.data.length; p++) {
      const v = other.image.data[p]
      if (!(v >= 0 && v <= 1)) t.fail(`${d}: pixel value ${v} outside [0, 1]`)
      diff += Math.abs(v - cleanSample.image.data[p])
    }
    t.ok(
      diff / other.image.data.length > 0.01,
      `${d}: pixels change (mean |diff| ${(diff / other.image.data.length).toFixed(3)})`,
    )
  }
})

t.test(
  'fashion domain textures come from Fashion-MNIST',
  { skip: fashionMnistAvailable() ? false : 'dataset-fashion-mnist is not installed' },
  async (t) => {
    const f = worldDataset({ size: 4, seed: 1, imageSize: 32, domains: ['fashion'] })
    const c = worldDataset({ size: 4, seed: 1, imageSize: 32, domains: ['clean'] })
    t.equal(f.get(0).domain, 'fashion')
    t.same(f.get(0).objects!.boxes, c.get(0).objects!.boxes)
    t.notSame(Array.from(f.get(0).image.data.subarray(0, 64)), Array.from(c.get(0).image.data.subarray(0, 64)))
  },
)

t.test('long tail and targets options', async (t) => {
  const tail = worldDataset({ size: 400, seed: 2, imageSize: 16, longTail: 1.5, objects: [1, 1], targets: ['labels'] })
  const counts = new Array(12).fill(0)
  for (let i = 0; i < tail.length; i++) counts[tail.get(i).labels!.shape]++
  t.ok(counts[0] > 5 * Math.max(1, counts[11]), `head ${counts[0]} vs tail ${counts[11]}`)
  const s: Sample = tail.get(0)
  t.equal(s.objects, undefined)
  t.equal(s.depth, undefined)
  const fine = worldDataset({ size: 3, level: 'fine', imageSize: 16 }).get(0)
  t.ok(fine.objects!.labels.every((l) => l >= 0 && l < 384))
})

t.test('bad options name the function, the option and the value', async (t) => {
  t.throws(() => worldDataset({ size: 0 }), /worldDataset: size must be a positive integer, got 0/)
  t.throws(
    () => worldDataset({ imageSize: 8 }),
    /worldDataset: imageSize sides must be integers in \[16, 1024\], got 8/,
  )
  t.throws(() => worldDataset({ objects: [0, 3] }), /worldDataset: objects must be \[min, max\]/)
  t.throws(() => worldDataset({ domains: ['foggy' as never] }), /unknown domain 'foggy'/)
  t.throws(() => worldDataset({ level: 'genus' as never }), /level must be/)
  if (!fashionMnistAvailable('/nonexistent')) {
    t.throws(() => worldDataset({ domains: ['fashion'], fashionRoot: '/nonexistent' }), /dataset-fashion-mnist/)
  }
  t.throws(
    () => worldDataset({ size: 3 }).get(3),
    /WorldDataset.get: index 3 is out of range for a dataset of length 3/,
  )
})
