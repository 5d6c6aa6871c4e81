// DistributedSampler and DistributedDataLoader, with the ranks simulated by numReplicas/rank:
// each index once per epoch, the same epoch the same order, and step b on R ranks taking
// exactly one process's batch b (which is what lets a run resume on another number of ranks).
import t from 'tap'
import * as iv from '../../src'
import { DataLoader } from '../../src/data/loader'

const { DistributedSampler, DistributedDataLoader } = iv.distributed

const shards = (size: number, R: number, epoch: number, opts: iv.distributed.DistributedSamplerOptions = {}) =>
  Array.from({ length: R }, (_, rank) =>
    Array.from(new DistributedSampler(size, { ...opts, numReplicas: R, rank }).indices(epoch)),
  )
const counts = (lists: number[][], size: number) => {
  const c = new Array(size).fill(0)
  for (const l of lists) for (const i of l) c[i]++
  return c
}
const sorted = (a: ArrayLike<number>) => Array.from(a).sort((x, y) => x - y)

t.test('every index once per epoch across the ranks', async (t) => {
  for (const R of [1, 2, 3, 4]) {
    for (const epoch of [0, 1, 5]) {
      const lists = shards(48, R, epoch)
      t.ok(
        lists.every((l) => l.length === 48 / R),
        `R=${R}: ${48 / R} each`,
      )
      t.ok(
        counts(lists, 48).every((c) => c === 1),
        `R=${R}, epoch ${epoch}: each of 48 indices exactly once`,
      )
    }
  }
  // 50 over 3 ranks: padded to 51 with the order's first index, or cut to 48 with dropLast.
  const padded = counts(shards(50, 3, 2), 50)
  t.ok(padded.every((c) => c >= 1) && padded.reduce((a, b) => a + b) === 51, 'padded: all 50, one twice')
  const dropped = counts(shards(50, 3, 2, { dropLast: true }), 50)
  t.ok(dropped.every((c) => c <= 1) && dropped.reduce((a, b) => a + b) === 48, 'dropLast: 48 distinct')
})

t.test('deterministic per epoch and seed', async (t) => {
  t.same(shards(30, 2, 3, { seed: 9 }), shards(30, 2, 3, { seed: 9 }), 'same epoch and seed, same shards')
  t.not(
    JSON.stringify(shards(30, 2, 3, { seed: 9 })),
    JSON.stringify(shards(30, 2, 4, { seed: 9 })),
    'another epoch reshuffles',
  )
  t.not(
    JSON.stringify(shards(30, 2, 3, { seed: 9 })),
    JSON.stringify(shards(30, 2, 3, { seed: 10 })),
    'another seed reshuffles',
  )
  t.same(
    shards(6, 2, 0, { shuffle: false }),
    [
      [0, 2, 4],
      [1, 3, 5],
    ],
    'without shuffling, dealt in turn',
  )
})

t.test("step b on R ranks takes one process's batch b, for any R", async (t) => {
  const world = iv.data.worldDataset({ size: 36, seed: 4, imageSize: 16 })
  const G = 12
  const single = new DataLoader(world, { batchSize: G, shuffle: true, seed: 7 }).batchIndices(2)
  for (const R of [1, 2, 3]) {
    const perRank = Array.from({ length: R }, (_, rank) =>
      new DistributedSampler(world, { numReplicas: R, rank, seed: 7 }).batches(2, G / R),
    )
    single.forEach((batch, b) =>
      t.same(sorted(perRank.flatMap((p) => Array.from(p[b]))), sorted(batch), `R=${R}, step ${b}`),
    )
  }
})

t.test('a percentage-shot subset through DistributedDataLoader', async (t) => {
  const world = iv.data.worldDataset({ size: 60, seed: 4, imageSize: 16 })
  const shots = await iv.data.percentageShot(world, { percent: 50, seed: 1, labelSpace: 'shape' })
  const part = iv.data.subset(world, shots.indices)
  const seen: number[] = []
  for (const rank of [0, 1]) {
    const loader = new DistributedDataLoader(part, { batchSize: 4, shuffle: true, seed: 3, numReplicas: 2, rank })
    t.equal(loader.length, Math.ceil(part.length / 2 / 4))
    let batches = 0
    for await (const batch of loader) {
      seen.push(...batch.indices)
      batches++
    }
    t.equal(batches, loader.length)
  }
  // Batches name their samples by world index: the shot list's, each once.
  t.same(sorted(seen), sorted(shots.indices), `the ${part.length} listed world images, each once`)
})

t.test('bad arguments are named', async (t) => {
  t.throws(
    () => new DistributedSampler(-1),
    /DistributedSampler: expected a dataset or a non-negative integer size, got -1/,
  )
  t.throws(() => new DistributedSampler(10, { numReplicas: 2, rank: 2 }), /rank must be in \[0, 2\), got 2/)
  t.throws(() => new DistributedSampler(10, { numReplicas: 0 }), /numReplicas must be a positive integer, got 0/)
  t.throws(
    () => new DistributedSampler(1, { numReplicas: 2, rank: 0, dropLast: true }),
    /dropLast leaves nothing: 1 samples for 2 ranks/,
  )
  t.throws(() => new DistributedSampler(10).indices(-1), /epoch must be a non-negative integer, got -1/)
  t.throws(() => new DistributedSampler(10).batches(0, 0), /batchSize must be a positive integer, got 0/)
})
