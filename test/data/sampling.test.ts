import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fromSamples, subset } from '../../src/data/dataset'
import { LabelSpace } from '../../src/data/labels'
import { Rng } from '../../src/data/rng'
import { formatShotList, parseShotList, percentageShot, readShotList, writeShotList } from '../../src/data/sampling'
import type { Sample } from '../../src/data/types'
import { worldDataset } from '../../src/data/world/world'

const image = { data: new Float32Array(1), channels: 1, height: 1, width: 1 }

/** A long-tailed classification set: class c has round(600 / (c+1)^1.2) examples, plus a singleton. */
function longTail(): { ds: ReturnType<typeof fromSamples<Sample>>; counts: number[] } {
  const counts = Array.from({ length: 30 }, (_, c) => Math.max(2, Math.round(600 / (c + 1) ** 1.2)))
  counts.push(1)
  const labels: number[] = []
  counts.forEach((n, c) => labels.push(...new Array(n).fill(c)))
  new Rng(99).shuffle(labels)
  const ds = fromSamples<Sample>(
    labels.map((c, i) => ({ image, index: i, labels: { class: c } })),
    {
      name: 'tail',
      tasks: ['classification'],
      labelSpaces: {
        class: new LabelSpace(
          'class',
          counts.map((_, c) => `c${c}`),
        ),
      },
    },
  )
  return { ds, counts }
}

function classCounts(ds: { get(i: number): unknown }, indices: Int32Array): Map<number, number> {
  const out = new Map<number, number>()
  for (const i of indices) {
    const c = (ds.get(i) as Sample).labels!.class
    out.set(c, (out.get(c) ?? 0) + 1)
  }
  return out
}

t.test('class proportions within one example of exact; every class keeps one', async (t) => {
  const { ds, counts } = longTail()
  const N = counts.reduce((a, b) => a + b, 0)
  for (const percent of [1, 5, 10, 20, 50, 100]) {
    const list = await percentageShot(ds, { percent, seed: 0 })
    const got = classCounts(ds, list.indices)
    counts.forEach((n, c) => {
      const exact = (percent / 100) * n
      const k = got.get(c) ?? 0
      if (k < 1) t.fail(`${percent}%: class ${c} lost every example`)
      if (Math.abs(k - exact) > 1 && !(exact < 1 && k === 1))
        t.fail(`${percent}%: class ${c} has ${k}, exact ${exact.toFixed(2)}`)
    })
    // Only classes whose exact share is below one example can be topped up past the rounded size.
    const extra = counts.filter((n) => (percent / 100) * n < 1).length
    t.ok(
      Math.abs(list.indices.length - Math.round((percent / 100) * N)) <= extra,
      `${percent}%: size ${list.indices.length} of ${N}`,
    )
    t.same(
      Array.from(list.indices),
      Array.from(list.indices).sort((a, b) => a - b),
      'indices ascending',
    )
    t.equal(new Set(list.indices).size, list.indices.length, 'no duplicates')
  }
})

t.test('a class with a single example survives at 1%', async (t) => {
  const { ds, counts } = longTail()
  const single = counts.length - 1
  const list = await percentageShot(ds, { percent: 1, seed: 5 })
  t.equal(classCounts(ds, list.indices).get(single), 1)
})

t.test('nested across percentages and deterministic per seed', async (t) => {
  const { ds } = longTail()
  const percents = [1, 2, 5, 10, 20, 30, 50, 75, 100]
  for (const seed of [0, 1, 2]) {
    const lists = []
    for (const percent of percents) lists.push(await percentageShot(ds, { percent, seed }))
    for (let j = 1; j < lists.length; j++) {
      const big = new Set(lists[j].indices)
      const outside = Array.from(lists[j - 1].indices).filter((i) => !big.has(i))
      t.same(outside, [], `seed ${seed}: ${percents[j - 1]}% inside ${percents[j]}%`)
    }
    const again = await percentageShot(ds, { percent: 10, seed })
    t.same(again.indices, lists[3].indices, `seed ${seed}: same list twice`)
  }
  const a = await percentageShot(ds, { percent: 10, seed: 0 })
  const b = await percentageShot(ds, { percent: 10, seed: 1 })
  t.notSame(a.indices, b.indices, 'seeds give different lists')
})

t.test('detection: images keep each class share of instances, nested', async (t) => {
  const world = worldDataset({ size: 600, seed: 4, imageSize: 16, longTail: 1, targets: ['objects'] })
  const totals = new Map<number, number>()
  const perImage: Map<number, number>[] = []
  for (let i = 0; i < world.length; i++) {
    const m = new Map<number, number>()
    const o = world.get(i).objects!
    o.labels.forEach((c, k) => {
      if (!o.ignore[k]) m.set(c, (m.get(c) ?? 0) + 1)
    })
    perImage.push(m)
    for (const [c, k] of m) totals.set(c, (totals.get(c) ?? 0) + k)
  }
  let previous: Set<number> | undefined
  for (const percent of [10, 20, 50]) {
    const list = await percentageShot(world, { percent, seed: 3, mode: 'instances' })
    t.equal(list.mode, 'instances')
    t.equal(list.indices.length, Math.round((percent / 100) * world.length))
    const got = new Map<number, number>()
    for (const i of list.indices) for (const [c, k] of perImage[i]) got.set(c, (got.get(c) ?? 0) + k)
    for (const [c, n] of totals) {
      const exact = (percent / 100) * n
      const k = got.get(c) ?? 0
      // Images carry several objects, so a class can overshoot by an image's worth (<= 6).
      if (Math.abs(k - exact) > 6) t.fail(`${percent}%: class ${c} has ${k} instances, exact ${exact.toFixed(1)}`)
      if (k < 1) t.fail(`${percent}%: class ${c} lost every instance`)
    }
    const current = new Set(list.indices)
    if (previous)
      t.same(
        [...previous].filter((i) => !current.has(i)),
        [],
        `${percent}% contains the smaller list`,
      )
    previous = current
  }
})

t.test('list file round trip, and percent-shot on a subset', async (t) => {
  const { ds } = longTail()
  const list = await percentageShot(ds, { percent: 10, seed: 7 })
  const dir = mkdtempSync(join(tmpdir(), 'shot-'))
  const path = join(dir, 'tail-10.txt')
  writeShotList(path, list)
  const back = readShotList(path)
  t.same(back, list)
  t.match(
    formatShotList(list),
    /^# intern-vision percentage-shot list v1\n# dataset=tail split=train percent=10 seed=7 mode=class labelSpace=class total=\d+ selected=\d+\n\d+\n/,
  )
  const sub = subset(ds, back.indices)
  t.equal(sub.length, list.indices.length)
  t.equal((sub.get(0) as Sample).index, list.indices[0])
  writeFileSync(join(dir, 'bad.txt'), formatShotList(list).replace(/\n(\d+)\n$/, '\n999999\n'))
  t.throws(
    () => readShotList(join(dir, 'bad.txt')),
    /parseShotList: .*bad.txt line \d+ \('999999'\) is not an index below total=/,
  )
  t.throws(() => parseShotList('hello'), /does not start with/)
})

t.test('bad input', async (t) => {
  const { ds } = longTail()
  await t.rejects(percentageShot(ds, { percent: 0, seed: 0 }), /percentageShot: percent must be in \(0, 100\], got 0/)
  await t.rejects(percentageShot(ds, { percent: 10, seed: 0.5 }), /seed must be a safe integer/)
  await t.rejects(percentageShot(ds, { percent: 10, seed: 0, labelSpace: 'colour' }), /has no label in space 'colour'/)
  await t.rejects(percentageShot(ds, { percent: 10, seed: 0, mode: 'instances' }), /neither objects nor segmentation/)
})
