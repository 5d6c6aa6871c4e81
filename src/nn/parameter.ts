// A Parameter is a leaf Tensor that a Module owns: it requires grad by default, and it is
// taken out of every scope() so that a model built or trained inside a scope keeps its weights.
import { keep } from '../tensor/memory'
import type { DType } from '../tensor/dtype'
import { Tensor } from '../tensor/tensor'

export class Parameter extends Tensor {
  /** Shares `data`'s memory (like torch.nn.Parameter); `data` itself may be disposed afterwards. */
  constructor(data: Tensor, requiresGrad = true) {
    if (!(data instanceof Tensor))
      throw new Error(`Parameter: data must be a Tensor, got ${data === null ? 'null' : typeof data}`)
    data.checkAlive('Parameter')
    data.storage.retain()
    super(data.storage, data.offset, [...data.shape], [...data.strides], data.dtype)
    keep(this)
    if (requiresGrad) this.requiresGrad_(true)
  }

  /**
   * Points this Parameter at new memory (torch's `param.data = t`), keeping the object, so
   * optimizers and other holders of it see the change. Used by Module.to().
   */
  setData(data: Tensor): void {
    data.checkAlive('Parameter.setData')
    data.storage.retain()
    this.storage.release()
    const self = this as unknown as {
      storage: unknown
      offset: number
      shape: number[]
      strides: number[]
      dtype: string
    }
    self.storage = data.storage
    self.offset = data.offset
    self.shape = [...data.shape]
    self.strides = [...data.strides]
    self.dtype = data.dtype
    this.packedLayout = undefined
  }

  override toString(): string {
    return `Parameter(${super.toString()})`
  }
}

/** A new uninitialised Parameter (layers fill it with an init function). */
export function newParameter(shape: number[], dtype: DType = 'float32', requiresGrad = true): Parameter {
  const t = Tensor.empty(shape, dtype)
  const p = new Parameter(t, requiresGrad)
  t.dispose() // p holds the memory now; this drops the temporary's reference
  return p
}
