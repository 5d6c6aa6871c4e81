import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { cacheToDisk, openDiskCache } from '../../src/data/cache'
import { collate, type Batch } from '../../src/data/collate'
import { fromSamples, subset } from '../../src/data/dataset'
import { DataLoader } from '../../src/data/loader'
import { compose, randomHorizontalFlip, randomResizedCrop, twoViews } from '../../src/data/transforms'
import type { Sample } from '../../src/data/types'
import { worldDataset } from '../../src/data/world/world'

const world = worldDataset({ size: 37, seed: 2, imageSize: 32 })

async function collect(loader: DataLoader): Promise<Batch[]> {
  const out: Batch[] = []
  for await (const b of loader) out.push(b)
  return out
}

t.test('collate pads objects to the largest count with a valid mask', async (t) => {
  const samples = [world.get(0), world.get(1), world.get(2)]
  const b = collate(samples)
  const counts = samples.map((s) => s.objects!.labels.length)
  const M = Math.max(...counts)
  t.same(b.images.shape, [3, 3, 32, 32])
  t.same(b.objects!.boxes.shape, [3, M, 4])
  t.same(Array.from(b.objects!.counts), counts)
  for (let i = 0; i < 3; i++) {
    for (let m = 0; m < M; m++) {
      const real = m < counts[i]
      t.equal(b.objects!.valid.data[i * M + m], real ? 1 : 0)
      t.equal(b.objects!.labels.data[i * M + m], real ? samples[i].objects!.labels[m] : -1)
    }
  }
  t.same(b.objects!.masks!.shape, [3, M, 32, 32])
  t.same(Object.keys(b.labels!).sort(), ['colour', 'count', 'domain', 'family', 'fine', 'shape', 'texture'])
  t.same(b.segmentation!.shape, [3, 32, 32])
  t.equal(b.captions!.length, 3)
  t.same(Array.from(b.indices), [0, 1, 2])
  const other = worldDataset({ size: 2, imageSize: 16 }).get(0)
  t.throws(
    () => collate([samples[0], other]),
    /collate: image 1 is 3x16x16 but image 0 is 3x32x32; add a resize or crop/,
  )
  t.throws(() => collate([]), /collate: cannot collate an empty list/)
})

t.test('batches, dropLast and seeded shuffling per epoch', async (t) => {
  const plain = new DataLoader(world, { batchSize: 8 })
  t.equal(plain.length, 5)
  const batches = await collect(plain)
  t.same(
    batches.map((b) => b.size),
    [8, 8, 8, 8, 5],
  )
  t.same(
    batches.flatMap((b) => Array.from(b.indices)),
    Array.from({ length: 37 }, (_, i) => i),
  )
  t.equal(new DataLoader(world, { batchSize: 8, dropLast: true }).length, 4)
  const shuffled = new DataLoader(world, { batchSize: 8, shuffle: true, seed: 5 })
  const e0 = shuffled.batchIndices(0).flatMap((b) => Array.from(b))
  const e1 = shuffled.batchIndices(1).flatMap((b) => Array.from(b))
  t.notSame(e0, e1, 'epochs shuffle differently')
  t.same(
    [...e0].sort((a, b) => a - b),
    Array.from({ length: 37 }, (_, i) => i),
  )
  t.same(
    new DataLoader(world, { batchSize: 8, shuffle: true, seed: 5 }).batchIndices(0).flatMap((b) => Array.from(b)),
    e0,
    'seeded',
  )
  t.throws(() => new DataLoader(world, { batchSize: 0 }), /DataLoader: batchSize must be a positive integer, got 0/)
  t.throws(() => new DataLoader(world, { workers: -1 }), /workers must be a non-negative integer/)
})

t.test('workers give exactly the batches of the inline path', async (t) => {
  const transform = compose([randomResizedCrop(24), randomHorizontalFlip()])
  const options = { batchSize: 6, shuffle: true, seed: 9, transform }
  const inline = new DataLoader(world, options)
  const threaded = new DataLoader(world, { ...options, workers: 2, prefetch: 2 })
  try {
    for (let epoch = 0; epoch < 2; epoch++) {
      const a = await collect(inline)
      const b = await collect(threaded)
      t.equal(b.length, a.length)
      t.same(b, a, `epoch ${epoch}: identical batches`)
    }
  } finally {
    await threaded.close()
  }
  // Subsets and two-view transforms rebuild in workers too.
  const views = new DataLoader(subset(world, [3, 1, 4, 1, 5]), {
    batchSize: 5,
    transform: twoViews(randomResizedCrop(16)),
    workers: 1,
  })
  try {
    const [b] = await collect(views)
    t.same(
      b.views!.map((v) => v.shape),
      [
        [5, 3, 16, 16],
        [5, 3, 16, 16],
      ],
    )
    t.same(Array.from(b.indices), [3, 1, 4, 1, 5])
    t.same(
      b,
      (await collect(new DataLoader(views.dataset, { batchSize: 5, transform: twoViews(randomResizedCrop(16)) })))[0],
    )
  } finally {
    await views.close()
  }
})

t.test('a disk cache gives back the same samples, also in workers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gvd-cache-'))
  const small = worldDataset({ size: 12, seed: 4, imageSize: 16 })
  const cached = await cacheToDisk(small, dir)
  t.equal(cached.length, 12)
  t.same(cached.get(7), small.get(7))
  const written = statSync(join(dir, 'samples.bin')).mtimeMs
  await cacheToDisk(small, dir)
  t.equal(statSync(join(dir, 'samples.bin')).mtimeMs, written, 'a matching cache is reused, not rewritten')
  const loader = new DataLoader(openDiskCache(dir), { batchSize: 12, workers: 1 })
  const [fromWorkers] = await collect(loader)
  t.same(fromWorkers, collate(Array.from({ length: 12 }, (_, i) => small.get(i))))
  // Truncate the file: the worker's read fails, and the error reaches the caller with the indices.
  truncateSync(join(dir, 'samples.bin'), 100)
  await t.rejects(collect(loader), /DataLoader worker 0: batch of indices \[0, 1, 2, 3, 4, 5, 6, 7, \.\.\.\] failed/)
  await loader.close()
  await t.rejects(collect(loader), /iterated after close/)
})

t.test('workers report setup failures and missing recipes clearly', async (t) => {
  // A recipe that cannot be rebuilt: the worker fails in setup and says so.
  const broken = {
    length: 4,
    info: world.info,
    get: (i: number) => world.get(i),
    recipe: { module: require.resolve('../../src/data/world/world'), exportName: 'worldDataset', args: [{ size: 0 }] },
  }
  const loader = new DataLoader(broken, { batchSize: 2, workers: 1 })
  await t.rejects(
    collect(loader),
    /DataLoader worker 0: could not rebuild its inputs: worldDataset: size must be a positive integer, got 0/,
  )
  await loader.close()
  const plain = fromSamples<Sample>([world.get(0)])
  t.throws(
    () => new DataLoader(plain, { workers: 1 }),
    /DataLoader: workers=1 needs recipes .* the dataset 'samples' has none/,
  )
  t.throws(() => new DataLoader(world, { workers: 1, transform: (s) => s }), /the transform has none/)
})

/**
 * Runs a script in a child node and returns its status and time. The entry is plain CommonJS
 * that installs a TypeScript hook, since the test runner injects its own loaders into children.
 */
function runChild(body: string): { status: number | null; ms: number; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gvd-child-'))
  const script = join(dir, 'child.ts')
  const entry = join(dir, 'child.js')
  const src = resolve(__dirname, '../../src/data')
  writeFileSync(
    script,
    `import { DataLoader, worldDataset } from ${JSON.stringify(src)}\n(async () => {\n${body}\n})()\n`,
  )
  const hook = ['tsx/cjs', '@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only']
    .map((h) => {
      try {
        return require.resolve(h)
      } catch {
        return undefined
      }
    })
    .find((h) => h !== undefined)
  writeFileSync(entry, `${hook ? `require(${JSON.stringify(hook)});` : ''} require(${JSON.stringify(script)})\n`)
  const start = Date.now()
  const r = spawnSync(process.execPath, [entry], { timeout: 30000, encoding: 'utf8' })
  return { status: r.status, ms: Date.now() - start, stderr: r.stderr }
}

t.test('shutdown: the process exits after close(), and after a forgotten close()', async (t) => {
  const common = `const loader = new DataLoader(worldDataset({ size: 400, imageSize: 32 }), { batchSize: 4, workers: 2, prefetch: 4 })
    let n = 0
    for await (const b of loader) { if (++n === 3) break }`
  const closed = runChild(`${common}\n await loader.close()\n console.log('done')`)
  t.equal(closed.status, 0, `exits after close (${closed.ms} ms) ${closed.stderr}`)
  const forgotten = runChild(`${common}\n console.log('done without close')`)
  t.equal(forgotten.status, 0, `exits without close (${forgotten.ms} ms) ${forgotten.stderr}`)
  t.ok(forgotten.ms < 25000, 'did not hang until the timeout')
})
