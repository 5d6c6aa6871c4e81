import t from 'tap'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  DEFAULT_TASKS,
  drawShotList,
  getTask,
  listTasks,
  SHIPPED_PERCENTS,
  SHIPPED_SEEDS,
  SHOTS_DIR,
  shotListPath,
  type BenchmarkTask,
} from '../../src/benchmark/tasks'
import { fashionMnistAvailable } from '../../src/data/formats/idx'
import { DIGITS_PATH, digits, fashionMnist } from '../../src/data/formats/mnist'
import { classStream, formatShotList, readShotList } from '../../src/data/sampling'
import type { Annotation, Dataset, Sample } from '../../src/data/types'
import { SHAPE_NAMES, TEXTURE_NAMES } from '../../src/data/world/concepts'

const missing: Record<string, string | false> = {
  'fashion-mnist': fashionMnistAvailable() ? false : 'dataset-fashion-mnist is not installed',
  digits: existsSync(DIGITS_PATH) ? false : 'python3-sklearn is not installed',
}
const available = (task: BenchmarkTask): boolean => !missing[task.name]

async function annotations(ds: Dataset<Sample>): Promise<Annotation[]> {
  const out: Annotation[] = []
  for (let i = 0; i < ds.length; i++) out.push(await ds.annotation!(i))
  return out
}

t.test('every task has a complete card and the promised samples', async (t) => {
  t.same(
    listTasks().map((x) => x.name),
    DEFAULT_TASKS,
  )
  t.same(DEFAULT_TASKS, [
    'fashion-mnist',
    'digits',
    'world-sketch-shape',
    'world-texture-lt',
    'world-detection',
    'world-pedestrian',
    'world-segmentation',
    'world-depth',
  ])
  const lowerIsBetter = new Set(['mr2', 'rmse'])
  for (const task of listTasks()) {
    const { card } = task
    t.equal(card.name, task.name)
    t.ok(card.description.length > 0 && card.data.length > 0, `${task.name}: described, with its data's provenance`)
    t.same(
      [card.metric, card.direction, card.extraMetrics, card.imageSize, card.numClasses],
      [task.metric, task.direction, task.extraMetrics, task.imageSize, task.numClasses],
    )
    t.equal(
      task.direction,
      lowerIsBetter.has(task.metric) ? 'lower' : 'higher',
      `${task.name}: ${task.metric} direction`,
    )
    t.equal(card.classNames.length, task.numClasses)
    t.equal(new Set(card.classNames).size, card.classNames.length, 'class names are distinct')
    t.ok(
      card.sizes.train <= 5000 && card.sizes.test >= 500 && card.sizes.test <= 1000,
      `${task.name}: ${card.sizes.train} / ${card.sizes.test} fits a 2-core CPU`,
    )
    t.equal(task.imageSize, task.type === 'classification' ? 32 : 64)
    if (task.type === 'classification') t.ok(task.labelSpace, 'classification names its label space')
    if (task.type === 'depth') t.equal(task.numClasses, 0)
    if (!available(task)) {
      t.throws(() => task.train(), /Install the Debian package/, `${task.name}: a missing package is named`)
      continue
    }
    for (const [part, ds] of [
      ['train', task.train()],
      ['test', task.test()],
    ] as const) {
      t.equal(ds.length, card.sizes[part], `${task.name} ${part} size`)
      t.equal(ds.info.split, part)
      for (const i of [0, 1, ds.length - 1]) {
        const s = (await ds.get(i)) as Sample
        const S = task.imageSize
        t.same([s.image.channels, s.image.height, s.image.width, s.image.data.length], [3, S, S, 3 * S * S])
        t.ok(
          s.image.data.every((v) => v >= 0 && v <= 1),
          'pixels in [0, 1]',
        )
        if (task.type === 'classification') {
          const y = s.labels![task.labelSpace!]
          t.ok(Number.isInteger(y) && y >= 0 && y < task.numClasses, `${task.name}: label ${y}`)
        } else if (task.type === 'detection') {
          const o = s.objects!
          t.ok(o.labels.every((c) => c >= 0 && c < task.numClasses))
          t.ok(o.boxes.every((v) => v >= 0 && v <= S))
          t.equal(o.ignore.length, o.labels.length)
          t.equal(o.visibility.length, o.labels.length)
        } else if (task.type === 'segmentation') {
          t.equal(s.segmentation!.length, S * S)
          t.ok(s.segmentation!.every((c) => c < task.numClasses || c === 255))
        } else {
          t.equal(s.depth!.length, S * S)
          t.equal(s.depthValid!.length, S * S)
          t.ok(s.depth!.every((d, p) => (s.depthValid![p] ? d > 0 : d === 0)))
        }
      }
    }
  }
  t.same(getTask('world-pedestrian').reasonable, { minHeight: (50 * 64) / 1024, minVisibility: 0.65 })
  t.equal(getTask('world-detection').reasonable, undefined)
})

t.test('fine-grained long-tailed task: shape x texture labels, a long tail', async (t) => {
  const task = getTask('world-texture-lt')
  t.equal(task.metric, 'meanPerClassAccuracy')
  t.equal(task.numClasses, SHAPE_NAMES.length * TEXTURE_NAMES.length)
  const ds = task.test()
  const counts = new Array(task.numClasses).fill(0)
  for (let i = 0; i < 400; i++) {
    const { labels } = (await ds.annotation!(i)) as Annotation
    t.equal(labels!.shapeTexture, labels!.shape * TEXTURE_NAMES.length + labels!.texture)
    t.equal(
      task.card.classNames[labels!.shapeTexture],
      `${TEXTURE_NAMES[labels!.texture]} ${SHAPE_NAMES[labels!.shape]}`,
    )
    counts[labels!.shapeTexture]++
  }
  const perShape = SHAPE_NAMES.map((_, s) => counts.slice(4 * s, 4 * s + 4).reduce((a, b) => a + b, 0))
  t.ok(perShape[0] > 4 * perShape[11], `the head shape is far more frequent than the tail (${perShape.join(' ')})`)
})

t.test('pedestrian-like task: only circles, with the world visibility', async (t) => {
  const ds = getTask('world-pedestrian').train()
  let circles = 0
  let occluded = 0
  for (let i = 0; i < 40; i++) {
    const o = ((await ds.get(i)) as Sample).objects!
    t.ok(o.labels.every((c) => c === 0))
    t.ok(o.visibility.every((v) => v > 0 && v <= 1))
    circles += o.labels.length
    occluded += o.visibility.filter((v) => v < 0.65).length
  }
  t.ok(circles > 40, `circles are frequent (${circles} in 40 images)`)
  t.ok(occluded > 0, `some are occluded below the Reasonable visibility (${occluded})`)
})

t.test('real-data tasks: class-balanced subsets, grey to 3 channels at 32 px', async (t) => {
  t.test('fashion-mnist', { skip: missing['fashion-mnist'] }, async (t) => {
    const task = getTask('fashion-mnist')
    for (const [part, perClass] of [
      ['train', 500],
      ['test', 100],
    ] as const) {
      const hist = new Array(10).fill(0)
      for (const a of await annotations(task[part]())) hist[a.labels!.class]++
      t.same(hist, new Array(10).fill(perClass), `${part}: ${perClass} per class`)
    }
    // The subset's rows, as its card says: the first 5000 of classStream over the train labels, ascending.
    const raw = fashionMnist({ split: 'train' })
    const labels = Int32Array.from({ length: raw.length }, (_, i) => raw.annotation(i).labels!.class)
    const rows = classStream(labels, 0).slice(0, 5000).sort()
    for (const k of [0, 2500, 4999]) {
      const s = (await task.train().get(k)) as Sample
      const r = raw.get(rows[k]).image.data
      const plane = 32 * 32
      t.same(s.image.data.subarray(0, plane), s.image.data.subarray(plane, 2 * plane), 'channels are equal')
      t.same(s.image.data.subarray(0, plane), s.image.data.subarray(2 * plane), 'channels are equal')
      t.equal(s.labels!.class, labels[rows[k]])
      // Bilinear with half-pixel centres: output (16, 16) samples source (13.9375, 13.9375).
      const at = (y: number, x: number): number => r[y * 28 + x]
      const w = 0.9375
      const want = (1 - w) * ((1 - w) * at(13, 13) + w * at(13, 14)) + w * ((1 - w) * at(14, 13) + w * at(14, 14))
      t.ok(Math.abs(s.image.data[16 * 32 + 16] - want) < 1e-6, `image ${k}: pixel (16, 16) is the bilinear value`)
      t.equal(s.image.data[0], r[0], 'the corner pixel is the source corner')
    }
  })
  t.test('digits', { skip: missing.digits }, async (t) => {
    const task = getTask('digits')
    const all = digits({ split: 'all' })
    const train = await annotations(task.train())
    const test = await annotations(task.test())
    t.equal(train.length + test.length, all.length)
    const hist = new Array(10).fill(0)
    const totals = new Array(10).fill(0)
    for (const a of test) hist[a.labels!.class]++
    for (let i = 0; i < all.length; i++) totals[all.annotation(i).labels!.class]++
    for (let c = 0; c < 10; c++) {
      t.ok(
        Math.abs(hist[c] - (totals[c] * 500) / all.length) < 1,
        `test: class ${c} has its share (${hist[c]} of ${totals[c]})`,
      )
    }
    const s = (await task.test().get(0)) as Sample
    t.same([s.image.channels, s.image.height], [3, 32])
  })
})

t.test('shipped shot lists', async (t) => {
  for (const name of DEFAULT_TASKS) {
    const task = getTask(name)
    const N = task.card.sizes.train
    for (const seed of SHIPPED_SEEDS) {
      for (const percent of SHIPPED_PERCENTS) {
        const list = readShotList(shotListPath(name, percent, seed))
        t.same([list.dataset, list.split, list.percent, list.seed, list.total], [name, 'train', percent, seed, N])
        if (percent === 100)
          t.same(
            Array.from(list.indices),
            Array.from({ length: N }, (_, i) => i),
            `${name}: 100% is everything`,
          )
        else {
          const K = Math.round(N / 10)
          const extra = Math.max(task.numClasses, 2)
          t.ok(
            list.indices.length >= K && list.indices.length <= K + extra,
            `${name} seed ${seed}: ${list.indices.length} of ${N} is ~10%`,
          )
        }
      }
      if (available(task))
        t.same(
          await task.shotIndices(10, seed),
          readShotList(shotListPath(name, 10, seed)).indices,
          'shotIndices reads the shipped list',
        )
    }
    const a = readShotList(shotListPath(name, 10, 0)).indices
    const b = readShotList(shotListPath(name, 10, 1)).indices
    t.notSame(Array.from(a), Array.from(b), `${name}: seeds give different lists`)
  }
})

t.test('the shipped long-tailed list is what the script draws, and keeps the class distribution', async (t) => {
  const task = getTask('world-texture-lt')
  const train = task.train()
  const cached = await annotations(train)
  const memo: Dataset<Sample> = {
    length: train.length,
    info: train.info,
    get: (i) => train.get(i),
    annotation: (i) => cached[i],
  }
  const list = await drawShotList(task, 10, 0, memo)
  t.equal(
    formatShotList(list),
    readFileSync(shotListPath(task.name, 10, 0), 'utf8'),
    'byte-identical to the shipped file',
  )
  const full = new Array(task.numClasses).fill(0)
  const part = new Array(task.numClasses).fill(0)
  cached.forEach((a) => full[a.labels!.shapeTexture]++)
  for (const i of list.indices) part[cached[i].labels!.shapeTexture]++
  for (let c = 0; c < task.numClasses; c++) {
    const exact = full[c] / 10
    t.ok(Math.abs(part[c] - exact) < 1 || (exact < 1 && part[c] === 1), `class ${c}: ${part[c]} of ${full[c]}`)
  }
  t.ok(
    Math.max(...full) > 10 * Math.min(...full),
    `the train split is long-tailed (largest class ${Math.max(...full)}, smallest ${Math.min(...full)})`,
  )
})

t.test('other percents are drawn on demand', { skip: missing.digits }, async (t) => {
  const task = getTask('digits')
  const five = await task.shotIndices(5, 0)
  t.ok(five.length >= 65 && five.length <= 75, `5% of 1297: ${five.length}`)
  const ten = await task.shotIndices(10, 7)
  const list = await drawShotList(task, 10, 7)
  t.same(ten, list.indices)
  t.ok(five.every((i) => i >= 0 && i < 1297))
})

t.test('bad input gives one clear error', async (t) => {
  t.throws(() => getTask('imagenet'), /getTask: no task 'imagenet'; known: fashion-mnist, digits, world-sketch-shape, /)
  const task = getTask('world-depth')
  for (const percent of [0, -5, 100.5, NaN, Infinity]) {
    await t.rejects(
      task.shotIndices(percent, 0),
      new RegExp(`shotIndices: percent must be in \\(0, 100\\], got ${percent}`),
    )
  }
  await t.rejects(task.shotIndices(10, -1), /shotIndices: seed must be a non-negative integer, got -1/)
  await t.rejects(task.shotIndices(10, 0.5), /seed must be a non-negative integer, got 0.5/)

  const dir = mkdtempSync(join(tmpdir(), 'iv-shots-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(SHOTS_DIR, dir, { recursive: true })
  const copy = getTask('world-depth', { shotsDir: dir })
  t.same(await copy.shotIndices(10, 1), await task.shotIndices(10, 1), 'a copied folder reads the same')
  const file = shotListPath('world-depth', 10, 0, dir)
  const text = readFileSync(file, 'utf8')
  writeFileSync(file, text.replace(/\n(\d+)\n/, '\nseven\n'))
  await t.rejects(
    copy.shotIndices(10, 0),
    new RegExp(
      `shotIndices: shot list ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt \\(parseShotList: .* is not an index below total=2000\\)`,
    ),
  )
  writeFileSync(file, text.replace('total=2000', 'total=2500'))
  await t.rejects(
    copy.shotIndices(10, 0),
    /shot list .*world-depth-10pct-seed0.txt says total=2500, expected 2000; regenerate it with 'npx tsx scripts\/make-shot-lists.ts world-depth'/,
  )
  writeFileSync(file, 'garbage\n')
  await t.rejects(copy.shotIndices(10, 0), /is corrupt \(parseShotList: .* does not start with/)
  rmSync(file)
  await t.rejects(copy.shotIndices(10, 0), /shot list .*world-depth-10pct-seed0.txt is missing/)
  const lines = readFileSync(shotListPath('world-depth', 10, 2, dir), 'utf8').split('\n')
  ;[lines[2], lines[3]] = [lines[3], lines[2]]
  writeFileSync(shotListPath('world-depth', 10, 2, dir), lines.join('\n'))
  await t.rejects(
    copy.shotIndices(10, 2),
    /is corrupt \(.*lists index 4 after 6; indices must be ascending and distinct\)/,
  )
})
