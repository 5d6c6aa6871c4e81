// GV-D throughput: images per second from the world generator, the real-data readers and the
// DataLoader (inline and on worker threads), to set beside the training step's images/s.
//
//   node --import tsx bench/data.ts            (or: npx tsx bench/data.ts)

import { mkdirSync, mkdtempSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  colorJitter,
  compose,
  DataLoader,
  encodePng,
  fashionMnist,
  fashionMnistAvailable,
  imageFolder,
  randomHorizontalFlip,
  randomResizedCrop,
  resize,
  WORLD_DOMAINS,
  worldDataset,
  type Dataset,
  type Sample,
} from '../src/data'

interface Row {
  what: string
  images: number
  seconds: number
}

const rows: Row[] = []

async function timeGet(what: string, ds: Dataset<Sample>, n: number): Promise<void> {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await ds.get(i % ds.length)
  rows.push({ what, images: n, seconds: (performance.now() - t0) / 1000 })
}

async function timeLoader(what: string, loader: DataLoader, maxBatches = Infinity): Promise<void> {
  // The first batch pays for worker start-up; time the steady state after it.
  let images = 0
  let t0 = 0
  let k = 0
  for await (const b of loader) {
    if (k === 0) t0 = performance.now()
    else images += b.size
    if (++k > maxBatches) break
  }
  rows.push({ what, images, seconds: (performance.now() - t0) / 1000 })
  await loader.close()
}

async function main(): Promise<void> {
  const synthetic = WORLD_DOMAINS.filter((d) => d !== 'fashion')
  await timeGet('world 32px, all targets, clean', worldDataset({ size: 2000, imageSize: 32 }), 2000)
  await timeGet('world 64px, all targets, clean', worldDataset({ size: 1000, imageSize: 64 }), 1000)
  await timeGet(
    'world 64px, labels only, clean',
    worldDataset({ size: 1000, imageSize: 64, targets: ['labels'] }),
    1000,
  )
  await timeGet(
    'world 64px, all targets, 6 domains',
    worldDataset({ size: 1000, imageSize: 64, domains: synthetic }),
    1000,
  )
  const aug = compose([
    randomResizedCrop(56, { scale: [0.35, 1] }),
    randomHorizontalFlip(),
    colorJitter({ brightness: 0.4, contrast: 0.4, saturation: 0.4 }),
  ])
  const world = worldDataset({ size: 3072, imageSize: 64, targets: ['labels', 'objects', 'caption'] })
  for (const workers of [0, 1, 2]) {
    await timeLoader(
      `DataLoader world 64px + crop/flip/jitter, batch 64, workers ${workers}`,
      new DataLoader(world, { batchSize: 64, shuffle: true, transform: aug, workers, prefetch: 4 }),
    )
  }
  if (fashionMnistAvailable()) {
    const fm = fashionMnist({ split: 'train' })
    await timeLoader(
      'DataLoader Fashion-MNIST 28px, batch 256, workers 0',
      new DataLoader(fm, { batchSize: 256, shuffle: true }),
      60,
    )
  }
  const dir = join(mkdtempSync(join(tmpdir(), 'gvd-bench-')), 'folder')
  const source = worldDataset({ size: 512, imageSize: 96, targets: ['labels'] })
  for (let i = 0; i < source.length; i++) {
    const s = source.get(i)
    const cls = join(dir, `c${s.labels!.shape}`)
    mkdirSync(cls, { recursive: true })
    await encodePng(s.image, join(cls, `${i}.png`))
  }
  const folder = imageFolder(dir)
  for (const workers of [0, 2]) {
    await timeLoader(
      `DataLoader ImageFolder 96px PNG -> 64px, batch 64, workers ${workers}`,
      new DataLoader(folder, { batchSize: 64, shuffle: true, transform: resize([64, 64]), workers }),
    )
  }
  console.log(`GV-D data bench (node ${process.version}, ${cpus().length} CPUs: ${cpus()[0]?.model ?? 'unknown'})`)
  console.log('| what | images | s | images/s |')
  console.log('|---|---:|---:|---:|')
  for (const r of rows)
    console.log(`| ${r.what} | ${r.images} | ${r.seconds.toFixed(2)} | ${Math.round(r.images / r.seconds)} |`)
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
