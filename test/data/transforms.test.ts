import t from 'tap'
import { rebuild } from '../../src/data/recipe'
import { Rng } from '../../src/data/rng'
import {
  augmentCaption,
  centerCrop,
  colorJitter,
  compose,
  grayscale,
  hflipSample,
  normalize,
  pad,
  randomGrayscale,
  randomHorizontalFlip,
  randomResizedCrop,
  resize,
  twoViews,
  type Transform,
} from '../../src/data/transforms'
import { augmentCaptionText } from '../../src/data/caption-augment'
import type { Sample } from '../../src/data/types'
import { worldDataset } from '../../src/data/world/world'

interface Failer {
  fail(message: string): unknown
}

const world = worldDataset({ size: 30, seed: 21, imageSize: 48, objects: [2, 5] })

/** Every mask pixel of every object lies inside its box (within `slack` pixels). */
function boxesEncloseMasks(t: Failer, s: Sample, slack: number, what: string): void {
  const { height: H, width: W } = s.image
  const o = s.objects!
  for (let k = 0; k < o.labels.length; k++) {
    const [x0, y0, x1, y1] = o.boxes.subarray(4 * k, 4 * k + 4)
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (!o.masks![k * H * W + y * W + x]) continue
        if (x + 1 < x0 - slack || x > x1 + slack || y + 1 < y0 - slack || y > y1 + slack) {
          t.fail(
            `${what}: object ${k} mask pixel (${x}, ${y}) outside box [${Array.from(o.boxes.subarray(4 * k, 4 * k + 4)).map((v) => v.toFixed(1))}]`,
          )
          return
        }
      }
    }
  }
}

/** The segmentation map agrees with the masks (same object, same pixels). */
function segmentationFollowsMasks(t: Failer, s: Sample, what: string): void {
  const { height: H, width: W } = s.image
  const o = s.objects!
  for (let p = 0; p < H * W; p++) {
    let k = -1
    for (let j = 0; j < o.labels.length; j++) if (o.masks![j * H * W + p]) k = j
    const expected = k < 0 ? s.segmentation![p] : o.ignore[k] ? 255 : o.labels[k] + 1
    if (k >= 0 && s.segmentation![p] !== expected) {
      t.fail(`${what}: pixel ${p} class ${s.segmentation![p]} but mask says ${expected}`)
      return
    }
  }
}

t.test('flip twice is the identity; one flip mirrors boxes', async (t) => {
  const s = world.get(3)
  const once = hflipSample(s)
  t.same(hflipSample(once), s)
  const W = s.image.width
  t.equal(once.objects!.boxes[0], W - s.objects!.boxes[2])
  t.equal(once.image.data[0], s.image.data[W - 1], 'pixel (0, 0) comes from (W-1, 0)')
  boxesEncloseMasks(t, once, 0, 'flip')
  segmentationFollowsMasks(t, once, 'flip')
})

t.test('boxes, masks, classes and depth follow the image through crops and resizes', async (t) => {
  const rrc = randomResizedCrop(40, { scale: [0.3, 1] })
  for (let i = 0; i < world.length; i++) {
    const s = world.get(i)
    const out = rrc(s, Rng.derive(1, i))
    t.equal(out.image.height, 40)
    if (out.segmentation!.length !== 1600 || out.depth!.length !== 1600) t.fail('maps resized with the image')
    // Nearest-neighbour masks can sit half an output pixel past a box edge that was resampled.
    boxesEncloseMasks(t, out, 1, `crop ${i}`)
    segmentationFollowsMasks(t, out, `crop ${i}`)
    for (let k = 0; k < out.objects!.labels.length; k++) {
      const [x0, y0, x1, y1] = out.objects!.boxes.subarray(4 * k, 4 * k + 4)
      if (!(x1 > x0 && y1 > y0 && x0 >= 0 && x1 <= 40)) t.fail(`crop ${i}: degenerate box kept`)
    }
  }
})

t.test('a crop that cuts objects away drops them from every target', async (t) => {
  const s = world.get(5)
  const left = compose([resize([48, 48])])(s, new Rng(0))
  t.same(left.objects!.boxes, s.objects!.boxes, 'resize to the same size is exact')
  const cropped = centerCrop(8)(s, new Rng(0))
  const n = cropped.objects!.labels.length
  t.equal(cropped.objects!.masks!.length, n * 64)
  t.equal(cropped.objects!.visibility.length, n)
})

t.test('pad shifts boxes and fills maps with ignore / invalid', async (t) => {
  const s = world.get(2)
  const out = pad([2, 3, 4, 5], { fill: 0.5 })(s, new Rng(0))
  t.equal(out.image.height, 48 + 6)
  t.equal(out.image.width, 48 + 8)
  t.equal(out.objects!.boxes[0], s.objects!.boxes[0] + 5)
  t.equal(out.objects!.boxes[1], s.objects!.boxes[1] + 2)
  t.equal(out.segmentation![0], 255)
  t.equal(out.depthValid![0], 0)
  t.equal(out.image.data[0], 0.5)
  // Interior pixels are copied exactly (scale 1, sample at pixel centres).
  t.equal(out.image.data[2 * 56 + 5], s.image.data[0])
  boxesEncloseMasks(t, out, 0, 'pad')
})

t.test('photometric transforms change only the image', async (t) => {
  const s = world.get(4)
  const jittered = colorJitter({ brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 })(s, new Rng(3))
  t.notSame(Array.from(jittered.image.data.subarray(0, 50)), Array.from(s.image.data.subarray(0, 50)))
  t.equal(jittered.objects, s.objects)
  t.equal(jittered.segmentation, s.segmentation)
  t.ok(jittered.image.data.every((v) => v >= 0 && v <= 1))
  const grey = grayscale()(s, new Rng(0))
  const plane = 48 * 48
  t.equal(grey.image.data[10], grey.image.data[plane + 10])
  const grey1 = grayscale({ keepChannels: false })(s, new Rng(0))
  t.equal(grey1.image.channels, 1)
  const norm = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] })(s, new Rng(0))
  t.ok(Math.abs(norm.image.data[7] - (s.image.data[7] - 0.5) / 0.25) < 1e-6)
  t.throws(
    () => normalize({ mean: [0.5], std: [0.2] })(s, new Rng(0)),
    /normalize: image has 3 channels but mean\/std have 1/,
  )
  t.same(s.image.data, world.get(4).image.data, 'inputs are never mutated')
})

t.test('two views and caption augmentation', async (t) => {
  const s = world.get(6)
  const view = compose([randomResizedCrop(32), randomHorizontalFlip(), randomGrayscale({ p: 0.2 })])
  const out = twoViews(view, { caption: { synonym: 1 } })(s, new Rng(8))
  t.equal(out.views!.length, 2)
  t.notSame(out.views![0].data, out.views![1].data)
  t.equal(out.objects, undefined, 'position-bound targets are dropped')
  t.equal(out.captionViews![0], s.caption)
  t.same(out.labels, s.labels)
  const text = 'a small red striped star left of a blue ring'
  t.equal(augmentCaptionText(text, new Rng(1), { synonym: 0, swap: 0, deletion: 0 }), text)
  const syn = augmentCaptionText(text, new Rng(1), { synonym: 1, swap: 0, deletion: 0 })
  t.notOk(/\bsmall\b|\bstriped\b|\bring\b/.test(syn), `every known word replaced: ${syn}`)
  const del = augmentCaptionText(text, new Rng(1), { synonym: 0, swap: 0, deletion: 0.5 })
  t.ok(del.split(' ').length < text.split(' ').length && del.length > 0)
  t.equal(augmentCaptionText(text, new Rng(4), {}), augmentCaptionText(text, new Rng(4), {}), 'seeded')
  t.equal(augmentCaption({ deletion: 1 })({ ...s }, new Rng(0)).caption!.split(' ').length, 1, 'one word always stays')
})

t.test('transforms are rebuilt from recipes to the same function', async (t) => {
  const original: Transform = compose([
    randomResizedCrop(24, { scale: [0.5, 1] }),
    randomHorizontalFlip({ p: 0.5 }),
    colorJitter({ brightness: 0.3 }),
    twoViews(centerCrop(16)),
  ])
  const copy = rebuild<Transform>(original.recipe!)
  const s = world.get(9)
  t.same(copy(s, new Rng(5)), original(s, new Rng(5)))
})

t.test('bad arguments name the transform and the value', async (t) => {
  t.throws(() => randomResizedCrop(0), /randomResizedCrop: size must be a positive integer or \[height, width\], got 0/)
  t.throws(() => randomResizedCrop(8, { scale: [0.5, 0.2] }), /randomResizedCrop: scale must satisfy/)
  t.throws(() => colorJitter({ hue: 0.7 }), /colorJitter: hue must be in \[0, 0.5\], got 0.7/)
  t.throws(() => randomHorizontalFlip({ p: 2 }), /randomHorizontalFlip: p must be in \[0, 1\], got 2/)
  t.throws(() => pad(-1), /pad: padding must be non-negative integers/)
  t.throws(() => compose([1 as never]), /compose: transforms\[0\] is not a function/)
})
