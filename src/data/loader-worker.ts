// A DataLoader worker thread: rebuilds the dataset, transform and collate from their recipes,
// then turns batch requests into collated batches, transferred back without copying.

import { parentPort, workerData } from 'node:worker_threads'
import { batchBuffers } from './collate'
import { makeBatch, type CollateFn } from './loader-core'
import { rebuild } from './recipe'
import type { Transform } from './transforms'
import type { Dataset, ImageSample, Recipe } from './types'

interface Init {
  dataset: Recipe
  transform: Recipe | null
  collate: Recipe | null
  seed: number
}

interface Request {
  id: number
  epoch: number
  indices: Int32Array
}

function describe(err: unknown): { message: string; stack?: string } {
  return err instanceof Error ? { message: err.message, stack: err.stack } : { message: String(err) }
}

const port = parentPort
if (port) {
  const init = workerData as Init
  let setup: { dataset: Dataset<ImageSample>; transform?: Transform; collate?: CollateFn } | undefined
  let setupError: { message: string; stack?: string } | undefined
  try {
    setup = {
      dataset: rebuild<Dataset<ImageSample>>(init.dataset),
      transform: init.transform ? rebuild<Transform>(init.transform) : undefined,
      collate: init.collate ? rebuild<CollateFn>(init.collate) : undefined,
    }
  } catch (err) {
    setupError = describe(err)
  }
  port.on('message', (req: Request) => {
    if (!setup) {
      port.postMessage({ type: 'error', id: req.id, error: setupError, during: 'setup' })
      return
    }
    makeBatch(setup.dataset, req.indices, req.epoch, init.seed, setup.transform, setup.collate).then(
      (batch) => port.postMessage({ type: 'batch', id: req.id, batch }, batchBuffers(batch)),
      (err: unknown) => port.postMessage({ type: 'error', id: req.id, error: describe(err), during: 'batch' }),
    )
  })
}
