// Each rank's share of a dataset, as PyTorch's DistributedSampler cuts it: the epoch's order
// (the DataLoader's own seeded shuffle, the same on every rank) is dealt out like cards, rank
// r taking positions r, r + R, r + 2R... With a per-rank batch of B, step b on all R ranks
// together takes positions [bRB, (b+1)RB) of the order: exactly the batch b of one process
// with batch RB. A run can therefore resume on another number of ranks, keeping R*B, at the
// same step and sample.
import { DataLoader, type DataLoaderOptions } from '../data/loader'
import { SHUFFLE_KEY } from '../data/loader-core'
import { Rng } from '../data/rng'
import type { Dataset, ImageSample } from '../data/types'
import { getRank, getWorldSize } from './rank'

export interface DistributedSamplerOptions {
  /** Ranks sharing the data (default: the world size). */
  numReplicas?: number
  /** This rank (default: this process's rank). */
  rank?: number
  shuffle?: boolean
  seed?: number
  /** Drop the tail that does not divide among the ranks; by default the order is padded
   * with its own first indices instead, so every rank gets the same count. */
  dropLast?: boolean
}

export class DistributedSampler {
  readonly size: number
  readonly numReplicas: number
  readonly rank: number
  readonly shuffle: boolean
  readonly seed: number
  readonly dropLast: boolean
  /** Indices each rank gets per epoch. */
  readonly numSamples: number

  /** Shards 0..size-1, or the positions of a dataset (a percentage-shot subset, say). */
  constructor(dataset: number | { length: number }, opts: DistributedSamplerOptions = {}) {
    const fn = 'DistributedSampler'
    const size = typeof dataset === 'number' ? dataset : dataset?.length
    if (!Number.isInteger(size) || size < 0)
      throw new Error(`${fn}: expected a dataset or a non-negative integer size, got ${String(size)}`)
    const { numReplicas = getWorldSize(), rank = getRank(), shuffle = true, seed = 0, dropLast = false } = opts
    if (!Number.isInteger(numReplicas) || numReplicas < 1)
      throw new Error(`${fn}: numReplicas must be a positive integer, got ${numReplicas}`)
    if (!Number.isInteger(rank) || rank < 0 || rank >= numReplicas)
      throw new Error(`${fn}: rank must be in [0, ${numReplicas}), got ${rank}`)
    if (!Number.isSafeInteger(seed)) throw new Error(`${fn}: seed must be a safe integer, got ${seed}`)
    if (dropLast && size < numReplicas)
      throw new Error(`${fn}: dropLast leaves nothing: ${size} samples for ${numReplicas} ranks`)
    if (!dropLast && size === 0) throw new Error(`${fn}: the dataset is empty`)
    this.size = size
    this.numReplicas = numReplicas
    this.rank = rank
    this.shuffle = shuffle
    this.seed = seed
    this.dropLast = dropLast
    this.numSamples = dropLast ? Math.floor(size / numReplicas) : Math.ceil(size / numReplicas)
  }

  /** The epoch's order over all ranks, before dealing: DataLoader's shuffle for (seed, epoch). */
  order(epoch: number): Int32Array {
    if (!Number.isInteger(epoch) || epoch < 0)
      throw new Error(`DistributedSampler: epoch must be a non-negative integer, got ${epoch}`)
    return this.shuffle
      ? Rng.derive(this.seed, SHUFFLE_KEY, epoch).permutation(this.size)
      : Int32Array.from({ length: this.size }, (_, i) => i)
  }

  /** This rank's indices for the epoch. */
  indices(epoch: number): Int32Array {
    const order = this.order(epoch)
    const out = new Int32Array(this.numSamples)
    for (let k = 0; k < this.numSamples; k++) out[k] = order[(this.rank + k * this.numReplicas) % this.size]
    return out
  }

  /** This rank's indices in batches of batchSize (its share of a global batch numReplicas times larger). */
  batches(epoch: number, batchSize: number, dropLast = false): Int32Array[] {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`DistributedSampler.batches: batchSize must be a positive integer, got ${batchSize}`)
    const mine = this.indices(epoch)
    const out: Int32Array[] = []
    for (let s = 0; s < mine.length; s += batchSize) {
      if (dropLast && s + batchSize > mine.length) break
      out.push(mine.slice(s, s + batchSize))
    }
    return out
  }
}

export interface DistributedDataLoaderOptions extends DataLoaderOptions {
  numReplicas?: number
  rank?: number
}

/**
 * A DataLoader over this rank's share (batchSize is per rank), with everything else the
 * DataLoader's: worker threads, and augmentation seeded by (seed, epoch, dataset index), so
 * a sample looks the same whichever rank loads it. dropLast drops both the tail that does
 * not divide among the ranks and a last partial batch.
 */
export class DistributedDataLoader extends DataLoader {
  readonly sampler: DistributedSampler

  constructor(dataset: Dataset<ImageSample>, options: DistributedDataLoaderOptions = {}) {
    const { numReplicas, rank, ...rest } = options
    super(dataset, rest)
    this.sampler = new DistributedSampler(dataset.length, {
      numReplicas,
      rank,
      shuffle: this.shuffle,
      seed: this.seed,
      dropLast: this.dropLast,
    })
  }

  override get length(): number {
    const n = this.sampler.numSamples / this.batchSize
    return this.dropLast ? Math.floor(n) : Math.ceil(n)
  }

  override batchIndices(epoch: number): Int32Array[] {
    return this.sampler.batches(epoch, this.batchSize, this.dropLast)
  }
}
