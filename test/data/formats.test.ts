import t from 'tap'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cocoDetection, depthFolder, imageFolder, segmentationFolder } from '../../src/data/formats/files'
import { decodeImage, encodeGreyPng, encodeJpeg, encodePng } from '../../src/data/formats/image-io'
import type { ImageCHW } from '../../src/data/types'

const root = mkdtempSync(join(tmpdir(), 'gvd-formats-'))

function solid(rgb: [number, number, number], H = 6, W = 8): ImageCHW {
  const data = new Float32Array(3 * H * W)
  for (let c = 0; c < 3; c++) data.fill(rgb[c], c * H * W, (c + 1) * H * W)
  return { data, channels: 3, height: H, width: W }
}

t.test('PNG encode/decode round trip is exact at 8 bits', async (t) => {
  const img = solid([0, 0.5, 1])
  img.data[5] = 0.2
  const bytes = await encodePng(img)
  const back = await decodeImage(bytes)
  t.same([back.channels, back.height, back.width], [3, 6, 8])
  for (let i = 0; i < img.data.length; i++) {
    if (Math.abs(back.data[i] - Math.round(img.data[i] * 255) / 255) > 1e-6) t.fail(`value ${i} changed`)
  }
  const grey = await decodeImage(bytes, { channels: 1, size: [3, 4] })
  t.same([grey.channels, grey.height, grey.width], [1, 3, 4])
  await t.rejects(decodeImage(new Uint8Array([1, 2, 3])), /decodeImage: cannot decode 3 bytes/)
})

t.test('ImageFolder: a folder per class, sorted, PNG and JPEG', async (t) => {
  const dir = join(root, 'folder')
  for (const [cls, rgb] of [
    ['cat', [1, 0, 0]],
    ['dog', [0, 0, 1]],
  ] as const) {
    mkdirSync(join(dir, cls), { recursive: true })
    await encodePng(solid([...rgb]), join(dir, cls, 'a.png'))
    await encodeJpeg(solid([...rgb]), join(dir, cls, 'b.jpg'))
  }
  writeFileSync(join(dir, 'dog', 'notes.txt'), 'not an image')
  const ds = imageFolder(dir, { name: 'pets' })
  t.equal(ds.length, 4)
  t.same(ds.info.labelSpaces.class.classes, ['cat', 'dog'])
  const dogJpeg = await ds.get(3)
  t.equal(dogJpeg.labels!.class, 1)
  t.ok(dogJpeg.image.data[2 * 48] > 0.9 && dogJpeg.image.data[0] < 0.1, 'blue survives JPEG')
  t.same(await ds.annotation!(0), { index: 0, labels: { class: 0 } })
  t.throws(() => imageFolder(join(root, 'nope')), /imageFolder: root '.*nope' is not a directory/)
  mkdirSync(join(root, 'empty'))
  t.throws(() => imageFolder(join(root, 'empty')), /has no class sub-folders/)
})

t.test('COCO-style detection JSON: xywh -> xyxy, iscrowd -> ignore, supercategories', async (t) => {
  const dir = join(root, 'coco')
  mkdirSync(dir)
  await encodePng(solid([0.5, 0.5, 0.5], 20, 30), join(dir, 'one.png'))
  await encodePng(solid([0.5, 0.5, 0.5], 20, 30), join(dir, 'two.png'))
  const coco = {
    images: [
      { id: 7, file_name: 'two.png', width: 30, height: 20 },
      { id: 3, file_name: 'one.png', width: 30, height: 20 },
    ],
    categories: [
      { id: 18, name: 'dog', supercategory: 'animal' },
      { id: 1, name: 'person', supercategory: 'person' },
    ],
    annotations: [
      { image_id: 3, bbox: [2, 4, 10, 6], category_id: 18, iscrowd: 0, segmentation: [[2, 4, 12, 4, 12, 10, 2, 10]] },
      { image_id: 3, bbox: [0, 0, 5, 5], category_id: 1, iscrowd: 1, visibility: 0.4 },
    ],
  }
  writeFileSync(join(dir, 'ann.json'), JSON.stringify(coco))
  const ds = cocoDetection(join(dir, 'ann.json'), dir, { masks: true })
  t.equal(ds.length, 2)
  t.same(ds.info.labelSpaces.class.classes, ['person', 'dog'], 'labels in category-id order')
  t.ok(ds.info.taxonomy!.isA('dog', 'animal'))
  const s = await ds.get(0)
  t.same(Array.from(s.objects!.boxes), [2, 4, 12, 10, 0, 0, 5, 5])
  t.same(Array.from(s.objects!.labels), [1, 0])
  t.same(Array.from(s.objects!.ignore), [0, 1])
  t.same(Array.from(s.objects!.visibility), [1, Math.fround(0.4)])
  const mask = s.objects!.masks!.subarray(0, 600)
  t.equal(
    mask.reduce((a, b) => a + b, 0),
    60,
    'polygon 10x6 fills 60 pixel centres',
  )
  t.equal((await ds.get(1)).objects!.labels.length, 0)
  writeFileSync(
    join(dir, 'bad.json'),
    JSON.stringify({ ...coco, annotations: [{ image_id: 99, bbox: [0, 0, 1, 1], category_id: 1 }] }),
  )
  t.throws(
    () => cocoDetection(join(dir, 'bad.json'), dir),
    /cocoDetection: '.*bad\.json': annotations\[0\] refers to image_id 99/,
  )
})

t.test('segmentation PNG masks: grey class ids, 255 ignore, colour palettes', async (t) => {
  const images = join(root, 'seg-images')
  const masks = join(root, 'seg-masks')
  mkdirSync(images)
  mkdirSync(masks)
  await encodePng(solid([0.2, 0.3, 0.4], 4, 4), join(images, 'x.jpg.png'))
  await encodeGreyPng(
    Uint8Array.from([0, 1, 2, 255, 0, 1, 2, 255, 0, 0, 0, 0, 1, 1, 1, 1]),
    4,
    4,
    join(masks, 'x.jpg.png'),
  )
  const ds = segmentationFolder(images, masks, { classes: ['background', 'road', 'car'] })
  const s = await ds.get(0)
  t.same(Array.from(s.segmentation!.subarray(0, 4)), [0, 1, 2, 255])
  const bad = segmentationFolder(images, masks, { classes: ['background', 'road'] })
  await t.rejects(Promise.resolve(bad.get(0)), /mask '.*' has value 2 at pixel 2, but there are only 2 classes/)
  const colourMasks = join(root, 'seg-colour')
  mkdirSync(colourMasks)
  const red = solid([0.5019608, 0, 0], 4, 4)
  await encodePng(red, join(colourMasks, 'x.jpg.png'))
  const voc = segmentationFolder(images, colourMasks, {
    classes: ['background', 'aeroplane'],
    palette: { '0,0,0': 0, '128,0,0': 1 },
  })
  t.same(Array.from((await voc.get(0)).segmentation!.subarray(0, 3)), [1, 1, 1])
  t.throws(
    () => segmentationFolder(images, join(root, 'folder'), { classes: ['a'] }),
    /image 'x.jpg.png' has no label file/,
  )
})

t.test('16-bit PNG depth: scale to metres, 0 = not measured', async (t) => {
  const images = join(root, 'depth-images')
  const depths = join(root, 'depth-maps')
  mkdirSync(images)
  mkdirSync(depths)
  await encodePng(solid([0.1, 0.1, 0.1], 2, 3), join(images, 'f.png'))
  await encodeGreyPng(Uint16Array.from([0, 256, 512, 65535, 1000, 300]), 2, 3, join(depths, 'f.png'))
  const ds = depthFolder(images, depths)
  const s = await ds.get(0)
  t.same(Array.from(s.depth!), [0, 1, 2, 65535 / 256, 1000 / 256, 300 / 256].map(Math.fround))
  t.same(Array.from(s.depthValid!), [0, 1, 1, 1, 1, 1])
  const nyu = depthFolder(images, depths, { scale: 1 / 1000 })
  t.ok(Math.abs((await nyu.get(0)).depth![1] - 0.256) < 1e-6)
  const eight = join(root, 'depth-8bit')
  mkdirSync(eight)
  await encodeGreyPng(new Uint8Array(6), 2, 3, join(eight, 'f.png'))
  await t.rejects(
    Promise.resolve(depthFolder(images, eight).get(0)),
    /depthFolder: depth '.*' is 8-bit; expected a 16-bit PNG/,
  )
})
