// Precise BatchNorm (Wu & Johnson, "Rethinking BatchNorm", 2021): every BatchNorm's running
// statistics become the exact average of its batch statistics over some batches under the
// current weights. After a short training the momentum-0.1 averages still carry the statistics
// of earlier weights (and of the initial mean 0, variance 1), which can make eval-mode
// predictions collapse to one class while the training loss is low.
import { noGrad } from '../autograd/grad-mode'
import { scope } from '../tensor/memory'
import { BatchNorm1d, BatchNorm2d } from './layers/norm'
import type { Module } from './module'

/**
 * Resets every BatchNorm of `model` and averages its statistics over the batches `forwardAll`
 * runs (`forwardAll(forward)` calls `forward(run)` once per batch; each run executes in train
 * mode, under noGrad, inside a scope). Momentum and train/eval mode are restored afterwards.
 */
export function recomputeBatchNormStats(model: Module, forwardAll: (forward: (run: () => void) => void) => void): void {
  const norms = model
    .modules()
    .filter((m): m is BatchNorm1d | BatchNorm2d => m instanceof BatchNorm1d || m instanceof BatchNorm2d)
  // momentum is read-only to users; null (a cumulative average) is set here for the pass alone
  const settable = norms as unknown as { momentum: number | null }[]
  const momenta = settable.map((m) => m.momentum)
  const wasTraining = model.training
  try {
    for (const m of norms) m.resetRunningStats()
    for (const m of settable) m.momentum = null
    model.train()
    forwardAll((run) => scope(() => noGrad(run)))
  } finally {
    settable.forEach((m, i) => (m.momentum = momenta[i]))
    model.train(wasTraining)
  }
}
