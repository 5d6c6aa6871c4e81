// DataLoader: batches, seeded shuffling, per-sample seeded augmentation, and prefetching on
// worker threads so that generation, decoding and augmentation run beside training.
//
// Workers are kept across epochs and hold a ref on the event loop only while they owe batches,
// so a script that breaks out of a loop and forgets close() still exits; close() ends them now.

import { Worker } from 'node:worker_threads'
import { dirname, join } from 'node:path'
import type { Batch } from './collate'
import { makeBatch, SHUFFLE_KEY, type CollateFn } from './loader-core'
import { Rng } from './rng'
import type { Transform } from './transforms'
import type { Dataset, ImageSample, Recipe } from './types'

export interface DataLoaderOptions {
  batchSize?: number
  shuffle?: boolean
  seed?: number
  /** Drop the last batch when it is smaller than batchSize. */
  dropLast?: boolean
  transform?: Transform
  collate?: CollateFn
  /** Worker threads; 0 runs everything inline on the calling thread. */
  workers?: number
  /** Batches in flight per worker. */
  prefetch?: number
}

interface Pending {
  resolve: (b: Batch) => void
  reject: (e: Error) => void
  indices: Int32Array
}

interface PoolWorker {
  worker: Worker
  pending: Map<number, Pending>
}

export class DataLoader implements AsyncIterable<Batch> {
  readonly batchSize: number
  readonly shuffle: boolean
  readonly seed: number
  readonly dropLast: boolean
  readonly workers: number
  readonly prefetch: number
  /** The epoch the next iteration runs (shuffle order and augmentation depend on it). */
  epoch = 0
  private pool: PoolWorker[] | undefined
  private nextId = 0
  private closed = false

  constructor(
    readonly dataset: Dataset<ImageSample>,
    private readonly options: DataLoaderOptions = {},
  ) {
    const fn = 'DataLoader'
    const { batchSize = 1, shuffle = false, seed = 0, dropLast = false, workers = 0, prefetch = 2 } = options
    if (!dataset || typeof dataset.get !== 'function' || !Number.isInteger(dataset.length)) {
      throw new TypeError(`${fn}: dataset must have a length and a get(index) method`)
    }
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`${fn}: batchSize must be a positive integer, got ${batchSize}`)
    if (!Number.isInteger(workers) || workers < 0)
      throw new RangeError(`${fn}: workers must be a non-negative integer, got ${workers}`)
    if (!Number.isInteger(prefetch) || prefetch < 1)
      throw new RangeError(`${fn}: prefetch must be a positive integer, got ${prefetch}`)
    if (!Number.isSafeInteger(seed)) throw new RangeError(`${fn}: seed must be a safe integer, got ${seed}`)
    if (workers > 0) {
      const missing = [
        !dataset.recipe && `the dataset '${dataset.info?.name}'`,
        options.transform && !options.transform.recipe && 'the transform',
        options.collate && !options.collate.recipe && 'the collate function',
      ].filter(Boolean)
      if (missing.length > 0) {
        throw new TypeError(
          `${fn}: workers=${workers} needs recipes to rebuild its inputs in worker threads, but ${missing.join(', ')} ` +
            `has none. Build them with the data system's factories (which attach recipes), attach ` +
            `{module, exportName, args} yourself, or use workers: 0.`,
        )
      }
    }
    this.batchSize = batchSize
    this.shuffle = shuffle
    this.seed = seed
    this.dropLast = dropLast
    this.workers = workers
    this.prefetch = prefetch
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length / this.batchSize
    return this.dropLast ? Math.floor(n) : Math.ceil(n)
  }

  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0)
      throw new RangeError(`DataLoader.setEpoch: epoch must be a non-negative integer, got ${epoch}`)
    this.epoch = epoch
  }

  /** The dataset indices of each batch of an epoch. */
  batchIndices(epoch: number): Int32Array[] {
    const N = this.dataset.length
    const order = this.shuffle
      ? Rng.derive(this.seed, SHUFFLE_KEY, epoch).permutation(N)
      : Int32Array.from({ length: N }, (_, i) => i)
    const out: Int32Array[] = []
    for (let s = 0; s < N; s += this.batchSize) {
      const chunk = order.subarray(s, Math.min(N, s + this.batchSize))
      if (chunk.length < this.batchSize && this.dropLast) break
      out.push(chunk.slice())
    }
    return out
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    if (this.closed) throw new Error('DataLoader: iterated after close()')
    const epoch = this.epoch++
    const batches = this.batchIndices(epoch)
    if (this.workers === 0) {
      for (const indices of batches) {
        yield await makeBatch(this.dataset, indices, epoch, this.seed, this.options.transform, this.options.collate)
      }
      return
    }
    const pool = this.startPool()
    const inFlight: (Promise<Batch> | undefined)[] = []
    const window = this.workers * this.prefetch
    let launched = 0
    let consumed = 0
    try {
      for (; consumed < batches.length; consumed++) {
        while (launched < batches.length && launched - consumed < window) {
          inFlight[launched] = this.dispatch(pool, batches[launched], epoch)
          launched++
        }
        const batch = await inFlight[consumed]!
        inFlight[consumed] = undefined
        yield batch
      }
    } finally {
      // Left early (break, error): results still on their way are dropped, not left unhandled.
      for (let j = consumed; j < launched; j++) inFlight[j]?.catch(() => undefined)
    }
  }

  /** Ends the worker threads; the loader cannot be iterated afterwards. */
  async close(): Promise<void> {
    this.closed = true
    const pool = this.pool
    this.pool = undefined
    if (!pool) return
    for (const w of pool) {
      for (const p of w.pending.values()) p.reject(new Error('DataLoader: closed while a batch was in flight'))
      w.pending.clear()
    }
    await Promise.all(pool.map((w) => w.worker.terminate()))
  }

  private startPool(): PoolWorker[] {
    if (this.pool) return this.pool
    const workerData = {
      dataset: this.dataset.recipe as Recipe,
      transform: this.options.transform?.recipe ?? null,
      collate: (this.options.collate?.recipe as Recipe | undefined) ?? null,
      seed: this.seed,
    }
    const pool: PoolWorker[] = []
    for (let k = 0; k < this.workers; k++) {
      const worker = spawnWorker(workerData)
      const entry: PoolWorker = { worker, pending: new Map() }
      worker.unref()
      worker.on(
        'message',
        (msg: {
          type: string
          id: number
          batch?: Batch
          error?: { message: string; stack?: string }
          during?: string
        }) => {
          const p = entry.pending.get(msg.id)
          if (!p) return
          entry.pending.delete(msg.id)
          if (entry.pending.size === 0) worker.unref()
          if (msg.type === 'batch') p.resolve(msg.batch!)
          else {
            const first = Array.from(p.indices.subarray(0, 8)).join(', ')
            const err = new Error(
              `DataLoader worker ${k}: ${msg.during === 'setup' ? 'could not rebuild its inputs' : `batch of indices [${first}${p.indices.length > 8 ? ', ...' : ''}] failed`}: ${msg.error?.message}`,
            )
            if (msg.error?.stack) err.stack = `${err.message}\n--- in the worker ---\n${msg.error.stack}`
            p.reject(err)
          }
        },
      )
      const fail = (err: Error): void => {
        for (const p of entry.pending.values()) p.reject(new Error(`DataLoader worker ${k} died: ${err.message}`))
        entry.pending.clear()
        // A dead worker cannot serve later epochs: start a fresh pool next time.
        if (this.pool === pool) {
          this.pool = undefined
          for (const other of pool) if (other !== entry) void other.worker.terminate()
        }
      }
      worker.on('error', fail)
      worker.on('exit', (code) => {
        if (entry.pending.size > 0) fail(new Error(`exited with code ${code}`))
      })
      pool.push(entry)
    }
    this.pool = pool
    return pool
  }

  private dispatch(pool: PoolWorker[], indices: Int32Array, epoch: number): Promise<Batch> {
    if (this.pool !== pool)
      return Promise.reject(new Error('DataLoader: the worker pool stopped (see the earlier error)'))
    let target = pool[0]
    for (const w of pool) if (w.pending.size < target.pending.size) target = w
    const id = this.nextId++
    return new Promise<Batch>((resolve, reject) => {
      target.pending.set(id, { resolve, reject, indices })
      target.worker.ref()
      target.worker.postMessage({ id, epoch, indices })
    })
  }
}

const TS_HOOKS = [
  'tsx/cjs',
  'ts-node/register/transpile-only',
  '@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only',
]
let tsHook: string | null | undefined

/**
 * Starts a worker on loader-worker. From compiled JavaScript that is a plain file. From
 * TypeScript sources (tests, ts-node scripts) the worker needs a TypeScript hook: a CommonJS
 * transpile-only hook when one is installed (a fresh thread without the parent's loaders starts
 * several times faster than one that inherits e.g. a test runner's ESM loaders), else the
 * parent's --import/--require loaders, inherited through execArgv.
 */
function spawnWorker(workerData: unknown): Worker {
  const ext = __filename.endsWith('.ts') ? '.ts' : '.js'
  const entry = join(dirname(__filename), `loader-worker${ext}`)
  if (ext === '.js') return new Worker(entry, { workerData })
  if (tsHook === undefined) {
    tsHook = null
    for (const hook of TS_HOOKS) {
      try {
        tsHook = require.resolve(hook, { paths: [__dirname, process.cwd()] })
        break
      } catch {
        // try the next one
      }
    }
  }
  if (tsHook === null) return new Worker(entry, { workerData })
  const bootstrap = `require(${JSON.stringify(tsHook)}); require(${JSON.stringify(entry)})`
  return new Worker(bootstrap, { eval: true, workerData, execArgv: [] })
}
