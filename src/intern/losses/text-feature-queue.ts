// DeCLIP's memory bank of text features for nearest-neighbour supervision: a FIFO of the last
// `capacity` L2-normalised text features, outside autograd. Its contents are registered buffers
// (`features`, and `position` = [next row to write, rows filled]), so they travel in the owning
// model's state dict: fit() checkpoints them and a resumed run looks up the same neighbours.
import { noGrad } from '../../autograd/grad-mode'
import { Module } from '../../nn/module'
import { tensor, zeros } from '../../tensor/creation'
import { shapeStr } from '../../tensor/shape'
import type { Tensor } from '../../tensor/tensor'
import { normalize } from '../../ops'
import { checkFeatures } from './check'

export class TextFeatureQueue extends Module {
  readonly capacity: number
  readonly dim: number
  declare features: Tensor
  declare position: Tensor

  constructor(capacity: number, dim: number) {
    super()
    for (const [k, v] of Object.entries({ capacity, dim }))
      if (!Number.isInteger(v) || v < 1) throw new Error(`TextFeatureQueue: ${k} must be a positive integer, got ${v}`)
    this.capacity = capacity
    this.dim = dim
    this.registerBuffer('features', zeros([capacity, dim]))
    this.registerBuffer('position', zeros([2], { dtype: 'int32' }))
  }

  /** Rows filled so far (at most capacity). */
  get size(): number {
    return (this.position.data() as Int32Array)[1]
  }

  /** The filled rows [size, dim], in storage order (the order does not matter to a lookup). */
  contents(): Tensor {
    return this.features.narrow(0, 0, this.size)
  }

  /** Appends the L2-normalised rows of features [N, dim], dropping the oldest beyond capacity. */
  enqueue(features: Tensor): void {
    const fn = 'TextFeatureQueue.enqueue'
    checkFeatures(fn, 'features', features)
    if (features.shape[1] !== this.dim)
      throw new Error(`${fn}: features ${shapeStr(features.shape)} must have ${this.dim} columns`)
    noGrad(() => {
      const [next, filled] = this.position.data() as Int32Array
      const n = Math.min(features.shape[0], this.capacity)
      const rows = normalize(features.detach().narrow(0, features.shape[0] - n, n), { dim: 1 })
      const head = Math.min(n, this.capacity - next)
      this.features.narrow(0, next, head).copy_(rows.narrow(0, 0, head))
      if (head < n) this.features.narrow(0, 0, n - head).copy_(rows.narrow(0, head, n - head))
      this.position.copy_(
        tensor(Int32Array.of((next + n) % this.capacity, Math.min(filled + n, this.capacity)), { shape: [2] }),
      )
    })
  }

  /** For each row of query [N, dim], the stored feature of highest cosine similarity [N, dim] (no gradient). */
  nearest(query: Tensor): Tensor {
    const fn = 'TextFeatureQueue.nearest'
    checkFeatures(fn, 'query', query)
    if (query.shape[1] !== this.dim)
      throw new Error(`${fn}: query ${shapeStr(query.shape)} must have ${this.dim} columns`)
    if (this.size === 0) throw new Error(`${fn}: the queue is empty`)
    return noGrad(() => {
      const bank = this.contents().to(query.dtype)
      const best = normalize(query.detach(), { dim: 1 }).matmul(bank.t()).argmax(1)
      return bank.indexSelect(0, best)
    })
  }
}
