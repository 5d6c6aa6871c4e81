// What a training loop needs to run unchanged as one process or as every rank of a launched
// world (mpirun, srun, the CLI's --nproc): it joins the world, attaches DDP to the trained
// module, gives each rank its share of every global batch, and says which rank writes the
// run's files. In one process (no launcher, or a launcher's world of one, and no init()) it is
// inert: one rank, whole batches, plain DataLoaders, no collective, so a one-process run is
// exactly what it was before.
import { DataLoader, type DataLoaderOptions } from '../data/loader'
import type { Dataset, ImageSample } from '../data/types'
import type { Module } from '../nn/module'
import { tensor } from '../tensor/creation'
import { DistributedDataParallel } from './ddp'
import { launchEnv } from './env'
import { allReduce, barrier, init, isInitialized } from './process-group'
import { getRank, getWorldSize } from './rank'
import { DistributedDataLoader } from './sampler'

/** Which share of a global batch a rank takes: positions rank, rank + R, rank + 2R, ... */
export interface BatchPart {
  rank: number
  worldSize: number
}

export interface DataParallel extends BatchPart {
  /** Rank 0 (or the only process): the one that writes logs, checkpoints and the output folder. */
  readonly main: boolean
  /**
   * A DataLoader whose batch b holds this rank's share of the global batch b that a one-process
   * DataLoader with these options gives (`batchSize` is the global batch: a multiple of the
   * ranks). That holds with dropLast; without it, the epoch's tail is padded (DistributedSampler).
   */
  loader(dataset: Dataset<ImageSample>, options: DataLoaderOptions & { batchSize: number }): DataLoader
  /**
   * Each value's mean over the ranks (every rank must call it): a step's loss over the whole global batch, for the log.
   */
  mean<K extends string>(values: Record<K, number>): Record<K, number>
  /** Returns once every rank has called it: what rank 0 wrote before is then there for all. */
  sync(): void
  /** Detaches DDP from the model and waits for every rank (after rank 0 wrote the run's files). */
  close(): void
}

export interface DataParallelOptions {
  /**
   * The global batch's per-source shares, for a trainer that deals them itself (BatchPart):
   * each must give every rank at least one sample. A share that does not divide among the
   * ranks gives them unequal counts, and then each rank's mean loss weighs its samples a
   * little differently from one process's mean over the whole batch (a note says so).
   */
  shares?: number[]
  /** No note. */
  quiet?: boolean
}

/**
 * Joins the launcher's world if it has several ranks and init() has not run yet; with more
 * than one rank, attaches DistributedDataParallel to `model` (rank 0's weights to every rank,
 * then every gradient averaged over the ranks). With equal shares, each rank's loss is a mean
 * over as many samples as every other's, and the averaged gradient is that of the whole batch.
 */
export async function dataParallel(fn: string, model: Module, opts: DataParallelOptions = {}): Promise<DataParallel> {
  if (!isInitialized() && launchEnv().worldSize > 1) await init()
  const worldSize = getWorldSize()
  if (worldSize === 1) return single
  const rank = getRank()
  const shares = opts.shares ?? []
  if (shares.some((n) => n < worldSize))
    throw new Error(
      `${fn}: the per-source shares of the global batch (${shares.join(', ')}) leave some of the ${worldSize} ranks without a sample of a source; use a larger batch or fewer ranks`,
    )
  if (rank === 0 && !opts.quiet && shares.some((n) => n % worldSize !== 0))
    process.stderr.write(
      `${fn}: the per-source shares ${shares.join(', ')} do not split evenly among ${worldSize} ranks, so the ranks' samples weigh slightly unequally in the averaged gradient\n`,
    )
  const ddp = new DistributedDataParallel(model)
  return {
    rank,
    worldSize,
    main: rank === 0,
    loader: (dataset, options) => {
      if (options.batchSize % worldSize !== 0)
        throw new Error(
          `${fn}: a global batch of ${options.batchSize} does not split evenly among ${worldSize} ranks; choose a multiple of ${worldSize}`,
        )
      return new DistributedDataLoader(dataset, {
        ...options,
        batchSize: options.batchSize / worldSize,
        numReplicas: worldSize,
        rank,
      })
    },
    mean: (values) => {
      const keys = Object.keys(values) as (keyof typeof values)[]
      const t = allReduce(
        tensor(
          keys.map((k) => values[k]),
          { dtype: 'float64' },
        ),
        { op: 'mean' },
      )
      const means = t.data() as Float64Array
      t.dispose()
      return Object.fromEntries(keys.map((k, i) => [k, means[i]])) as typeof values
    },
    sync: barrier,
    close: () => {
      ddp.remove()
      barrier()
    },
  }
}

const single: DataParallel = {
  rank: 0,
  worldSize: 1,
  main: true,
  loader: (dataset, options) => new DataLoader(dataset, options),
  mean: (values) => values,
  sync: () => {},
  close: () => {},
}
