import t from 'tap'
import { createHash } from 'node:crypto'
import {
  BENCHMARK_CAPACITY,
  BENCHMARK_SPLITS,
  BENCHMARK_WORLD_SEEDS,
  benchmarkDataset,
  HELD_OUT_DOMAINS,
  HELD_OUT_LABEL_SPACES,
  HELD_OUT_WORDS,
  listBenchmarkData,
  listUpstreamSources,
  PolicyWorld,
  streamIndices,
  stripHeldOutWords,
  UPSTREAM_DOMAINS,
  UPSTREAM_LABEL_SPACES,
  UPSTREAM_SPLITS,
  UPSTREAM_VAL_CAPACITY,
  UPSTREAM_WORLD_SEEDS,
  upstreamSource,
} from '../../src/data/gvd'
import { datasetCard, getDataset } from '../../src/data/registry'
import { rebuild } from '../../src/data/recipe'
import { mixSeed, stringKey } from '../../src/data/rng'
import type { Dataset, Sample } from '../../src/data/types'
import { SHAPE_NAMES, TEXTURE_NAMES } from '../../src/data/world/concepts'
import { WORLD_DOMAINS } from '../../src/data/world/domains'
import { worldDataset } from '../../src/data/world/world'

// Written out here rather than imported, so the test checks the policy against the world's own
// derivation (src/data/world/world.ts: mixSeed(seed, stringKey(split), index)).
const seedOfImage = (seed: number, split: string, j: number): number => mixSeed(seed, stringKey(split), j)
const seedsOf = (ds: PolicyWorld): Set<number> =>
  new Set(Array.from(ds.streamIndices, (j) => seedOfImage(ds.worldOptions.seed!, ds.worldOptions.split!, j)))
const pixelHash = (s: Sample): string =>
  createHash('sha256')
    .update(new Uint8Array(s.image.data.buffer, s.image.data.byteOffset, s.image.data.byteLength))
    .digest('hex')
const asPolicy = (ds: Dataset<Sample>): PolicyWorld => {
  if (!(ds instanceof PolicyWorld)) throw new Error(`${ds.info.name} is not a PolicyWorld`)
  return ds
}
const worldTasks = listBenchmarkData().filter((d) => d.name in BENCHMARK_WORLD_SEEDS)

t.test('the policy partitions domains and label spaces, and reserves disjoint streams', async (t) => {
  t.same(
    [...UPSTREAM_DOMAINS, ...HELD_OUT_DOMAINS].sort(),
    [...WORLD_DOMAINS].sort(),
    'every domain is either upstream or held out',
  )
  t.equal(UPSTREAM_DOMAINS.filter((d) => HELD_OUT_DOMAINS.includes(d)).length, 0)
  t.equal(UPSTREAM_LABEL_SPACES.filter((s) => HELD_OUT_LABEL_SPACES.includes(s)).length, 0)
  const up = Object.values(UPSTREAM_WORLD_SEEDS)
  const down = Object.values(BENCHMARK_WORLD_SEEDS)
  t.equal(new Set([...up, ...down]).size, up.length + down.length, 'every source and task has its own world seed')
  t.same(
    Object.keys(UPSTREAM_WORLD_SEEDS).sort(),
    listUpstreamSources()
      .map((s) => s.name)
      .sort(),
    'one seed per upstream source',
  )
  t.same(
    Object.keys(BENCHMARK_WORLD_SEEDS).sort(),
    worldTasks.map((d) => d.name).sort(),
    'one seed per benchmark world task',
  )

  const upKeys = new Set<string>()
  for (const source of listUpstreamSources()) {
    for (const split of ['train', 'val'] as const) {
      const ds = asPolicy(source.create({ size: 4, split }))
      const o = ds.worldOptions
      t.equal(o.seed, UPSTREAM_WORLD_SEEDS[source.name])
      t.equal(o.split, UPSTREAM_SPLITS[split])
      upKeys.add(`${o.seed}/${o.split}`)
      t.ok(
        o.domains!.every((d) => UPSTREAM_DOMAINS.includes(d)),
        `${source.name}: only upstream domains (${o.domains})`,
      )
      t.not(o.level, 'fine', `${source.name}: objects are not labelled with the held-out 'fine' space`)
      const spaces = Object.keys(ds.info.labelSpaces)
      t.equal(
        spaces.filter((s) => HELD_OUT_LABEL_SPACES.includes(s)).length,
        0,
        `${source.name}: no held-out label space in its info (${spaces})`,
      )
      if (source.labelSpace) t.ok(UPSTREAM_LABEL_SPACES.includes(source.labelSpace))
    }
  }
  t.equal(upKeys.size, 2 * listUpstreamSources().length, 'upstream streams are distinct')
  for (const d of worldTasks) {
    for (const part of ['train', 'test'] as const) {
      const o = asPolicy(benchmarkDataset(d.name, part)).worldOptions
      t.notOk(upKeys.has(`${o.seed}/${o.split}`), `${d.name} ${part} is not an upstream stream`)
      t.equal(o.split, BENCHMARK_SPLITS[part])
      t.ok(
        o.domains!.every((x) => HELD_OUT_DOMAINS.includes(x)),
        `${d.name}: held-out domains only (${o.domains})`,
      )
    }
  }
})

t.test('unrelated streams do share scenes, which is why the policy ranks them', async (t) => {
  // Birthday search between a benchmark test stream and an upstream train stream.
  const test = { seed: BENCHMARK_WORLD_SEEDS['world-detection'], split: BENCHMARK_SPLITS.test }
  const up = { seed: UPSTREAM_WORLD_SEEDS['up-det-symbol'], split: UPSTREAM_SPLITS.train }
  const testSeeds = new Map<number, number>()
  for (let i = 0; i < BENCHMARK_CAPACITY; i++) testSeeds.set(seedOfImage(test.seed, test.split, i), i)
  let hit: [number, number] | undefined
  for (let j = 0; j < 1 << 22 && !hit; j++) {
    const i = testSeeds.get(seedOfImage(up.seed, up.split, j))
    if (i !== undefined) hit = [i, j]
  }
  if (!hit) return t.fail('no shared image seed found')
  const [i, j] = hit
  const options = { imageSize: 32, domains: ['clean' as const], targets: ['labels' as const] }
  const a = worldDataset({ ...options, ...test, size: i + 1 }).get(i)
  const b = worldDataset({ ...options, ...up, size: j + 1 }).get(j)
  t.equal(pixelHash(a), pixelHash(b), `benchmark-test image ${i} and upstream-train image ${j} are the same picture`)
  const kept = streamIndices(up.seed, up.split, j + 1)
  t.notOk(kept.includes(j), 'the policy skips that upstream image')
  t.ok(kept[j] > j, 'and takes a later one instead')
})

t.test('no upstream image seed is a benchmark image seed (structural, at full benchmark size)', async (t) => {
  const benchTest = new Set<number>()
  const benchTrain = new Set<number>()
  for (const d of worldTasks) {
    for (const s of seedsOf(asPolicy(benchmarkDataset(d.name, 'test')))) benchTest.add(s)
    for (const s of seedsOf(asPolicy(benchmarkDataset(d.name, 'train')))) benchTrain.add(s)
  }
  t.equal(
    [...benchTrain].filter((s) => benchTest.has(s)).length,
    0,
    'benchmark train streams avoid every benchmark test scene',
  )
  for (const source of listUpstreamSources()) {
    const val = seedsOf(asPolicy(source.create({ size: UPSTREAM_VAL_CAPACITY, split: 'val' })))
    const train = seedsOf(asPolicy(source.create({ size: 20000, split: 'train' })))
    for (const [name, set] of [
      ['val', val],
      ['train', train],
    ] as const) {
      const shared = [...set].filter((s) => benchTest.has(s) || benchTrain.has(s)).length
      t.equal(shared, 0, `${source.name} ${name}: no benchmark scene`)
    }
    t.equal([...train].filter((s) => val.has(s)).length, 0, `${source.name}: train avoids its val scenes`)
  }
})

t.test('no pixel collision between upstream and benchmark images (empirical)', async (t) => {
  const seen = new Map<string, string>()
  const add = (ds: Dataset<Sample>, label: string, n: number): void => {
    for (let i = 0; i < n; i++) {
      const h = pixelHash(ds.get(i) as Sample)
      t.notOk(seen.has(h), `${label} #${i} duplicates ${seen.get(h)}`)
      seen.set(h, `${label} #${i}`)
    }
  }
  for (const d of worldTasks) {
    add(benchmarkDataset(d.name, 'train'), `${d.name} train`, 12)
    add(benchmarkDataset(d.name, 'test'), `${d.name} test`, 12)
  }
  for (const source of listUpstreamSources()) {
    for (const imageSize of [32, 64]) {
      add(source.create({ size: 12, imageSize }), `${source.name} train ${imageSize}px`, 12)
      add(source.create({ size: 12, imageSize, split: 'val' }), `${source.name} val ${imageSize}px`, 12)
    }
  }
  t.equal(seen.size, 12 * 2 * (worldTasks.length + 2 * listUpstreamSources().length))
})

t.test('every upstream source builds, has a complete card and the promised targets', async (t) => {
  t.same(listUpstreamSources('imageText').length, 1)
  t.ok(listUpstreamSources('classification').length >= 3)
  t.same(
    new Set(listUpstreamSources('classification').map((s) => s.labelSpace)).size,
    listUpstreamSources('classification').length,
    'distinct label spaces',
  )
  t.ok(
    listUpstreamSources('classification').some((s) => (asPolicy(s.create({ size: 1 })).worldOptions.longTail ?? 0) > 0),
    'one is long-tailed',
  )
  t.equal(listUpstreamSources('detection').length, 2)
  t.equal(listUpstreamSources('segmentation').length, 1)
  for (const source of listUpstreamSources()) {
    t.match(source.name, /^up-/)
    const card = datasetCard(source.name)
    t.equal(card, source.card, `${source.name} is registered with its card`)
    t.equal(card.name, source.name)
    for (const key of ['description', 'license', 'provenance'] as const)
      t.ok(card[key].length > 0, `${source.name} card.${key}`)
    t.same(card.tasks, [source.task])
    t.ok(card.sizes.train! > 0 && card.sizes.val! > 0)
    t.equal(source.numClasses, source.classNames.length)
    const ds = getDataset(source.name, 'val', { size: 6 })
    t.equal(ds.length, 6)
    t.equal(ds.info.split, 'val')
    t.equal(ds.info.taxonomy, undefined, `${source.name}: no world taxonomy (it names the fine concepts)`)
    if (source.labelSpace) t.same(ds.info.labelSpaces[source.labelSpace].classes, source.classNames)
    const again = rebuild<Dataset<Sample>>(ds.recipe!)
    t.equal(
      pixelHash(again.get(5) as Sample),
      pixelHash(ds.get(5) as Sample),
      `${source.name} rebuilds from its recipe (DataLoader workers)`,
    )
    for (let i = 0; i < 6; i++) {
      const s = ds.get(i) as Sample
      t.same([s.image.channels, s.image.height, s.image.width], [3, source.imageSize, source.imageSize])
      t.ok(s.image.data.every((v) => v >= 0 && v <= 1))
      t.equal(s.index, i)
      for (const space of Object.keys(s.labels ?? {}))
        t.ok(UPSTREAM_LABEL_SPACES.includes(space), `${source.name}: label '${space}' is an upstream space`)
    }
  }
  t.throws(() => upstreamSource('up-imagenet'), /upstreamSource: no source 'up-imagenet'; known: up-image-text, /)
  t.throws(
    () => upstreamSource('up-cls-colour').create({ split: 'test' as 'val' }),
    /'up-cls-colour' has splits 'train' and 'val', got 'test'/,
  )
  t.throws(
    () => upstreamSource('up-cls-colour').create({ split: 'val', size: UPSTREAM_VAL_CAPACITY + 1 }),
    /size of 'up-cls-colour' val must be an integer in \[1, 2000\], got 2001/,
  )
  t.throws(() => upstreamSource('up-cls-colour').create({ size: 0 }), /must be an integer in \[1, /)
  t.throws(() => getDataset('up-cls-colour', 'test'), /'up-cls-colour' has no split 'test'; it has train, val/)
})

t.test('upstream targets equal the world scene, relabelled by the source', async (t) => {
  for (const source of listUpstreamSources()) {
    const ds = asPolicy(source.create({ size: 20, split: 'train' }))
    const raw = worldDataset({ ...ds.worldOptions, targets: ['labels', 'objects', 'segmentation', 'caption'] })
    let texturedCaptions = 0
    for (let i = 0; i < ds.length; i++) {
      const s = ds.get(i)
      const r = raw.get(ds.streamIndices[i])
      t.equal(pixelHash(s), pixelHash(r), 'same pixels as the world image')
      if (source.task === 'classification') {
        t.same(s.labels, { [source.labelSpace!]: r.labels![source.labelSpace!] })
        t.ok(s.labels![source.labelSpace!] < source.numClasses)
      } else if (source.task === 'detection') {
        const o = r.objects!
        const want: number[] = []
        const vis: number[] = []
        for (let k = 0; k < o.labels.length; k++) {
          const c = source.classNames.indexOf(SHAPE_NAMES[o.labels[k]])
          if (c >= 0) {
            want.push(c, ...o.boxes.subarray(4 * k, 4 * k + 4), o.ignore[k])
            vis.push(o.visibility[k])
          }
        }
        const got: number[] = []
        s.objects!.labels.forEach((c, k) =>
          got.push(c, ...s.objects!.boxes.subarray(4 * k, 4 * k + 4), s.objects!.ignore[k]),
        )
        t.same(got, want, `${source.name} #${i}: the vocabulary's objects, relabelled, boxes and ignore flags kept`)
        t.same(Array.from(s.objects!.visibility), vis)
      } else if (source.task === 'segmentation') {
        t.same(s.segmentation, r.segmentation)
        t.ok(s.segmentation!.every((c) => c < source.numClasses || c === 255))
      } else {
        t.equal(s.caption, stripHeldOutWords(r.caption!))
        t.notMatch(s.caption!, new RegExp(`\\b(${HELD_OUT_WORDS.join('|')})\\b`), 'no texture word')
        t.ok(s.caption!.length > 0)
        if (s.caption !== r.caption) texturedCaptions++
      }
    }
    if (source.task === 'imageText') t.ok(texturedCaptions > 0, 'some world captions named a texture and lost it')
  }
  t.equal(stripHeldOutWords('a large red striped star left of a checkered ring'), 'a large red star left of a ring')
  t.same(HELD_OUT_WORDS, TEXTURE_NAMES.slice(1))
})
