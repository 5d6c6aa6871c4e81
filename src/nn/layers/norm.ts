// Normalisation layers: BatchNorm1d/2d (with running statistics), LayerNorm, GroupNorm.
// Buffer names are PyTorch's (running_mean, running_var, num_batches_tracked), so state
// dicts move between the two unchanged.
import { full, ones, zeros } from '../../tensor/creation'
import type { DType } from '../../tensor/dtype'
import { shapeStr } from '../../tensor/shape'
import type { Tensor } from '../../tensor/tensor'
import { batchNorm, groupNorm, layerNorm } from '../../ops'
import { normActivations, type NormActivation } from '../../ops/norm'
import { ones_, zeros_ } from '../init'
import { Module } from '../module'
import { newParameter, type Parameter } from '../parameter'
import { checkPositiveInt } from './check'

export interface BatchNormOptions {
  eps?: number
  /** The running statistics' update factor; null keeps a cumulative average (torch's momentum=None). */
  momentum?: number | null
  affine?: boolean
  trackRunningStats?: boolean
  dtype?: DType
}

export abstract class BatchNormBase extends Module {
  readonly numFeatures: number
  readonly eps: number
  readonly momentum: number | null
  readonly affine: boolean
  readonly trackRunningStats: boolean
  weight: Parameter | null
  bias: Parameter | null
  declare running_mean: Tensor | null
  declare running_var: Tensor | null
  declare num_batches_tracked: Tensor | null
  /** The conv this norm was folded into for inference (foldBatchNorm); it then passes x through. */
  foldedInto: string | null = null

  protected abstract checkInput(x: Tensor): void

  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super()
    const L = this.constructor.name
    this.numFeatures = checkPositiveInt(L, 'numFeatures', numFeatures)
    this.eps = opts.eps ?? 1e-5
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1))
      throw new Error(`${L}: momentum must be in [0, 1] or null, got ${this.momentum}`)
    this.affine = opts.affine ?? true
    this.trackRunningStats = opts.trackRunningStats ?? true
    const dtype = opts.dtype ?? 'float32'
    this.weight = this.affine ? ones_(newParameter([numFeatures], dtype)) : null
    this.bias = this.affine ? zeros_(newParameter([numFeatures], dtype)) : null
    const track = this.trackRunningStats
    this.registerBuffer('running_mean', track ? zeros([numFeatures], { dtype }) : null)
    this.registerBuffer('running_var', track ? ones([numFeatures], { dtype }) : null)
    this.registerBuffer('num_batches_tracked', track ? full([], 0, { dtype: 'int32' }) : null)
  }

  get runningMean(): Tensor | null {
    return this.running_mean
  }
  get runningVar(): Tensor | null {
    return this.running_var
  }
  get numBatchesTracked(): Tensor | null {
    return this.num_batches_tracked
  }

  resetRunningStats(): void {
    this.running_mean?.zero_()
    this.running_var?.fill_(1)
    this.num_batches_tracked?.zero_()
  }

  override forward(x: Tensor): Tensor {
    return this.normalize(x)
  }

  /**
   * forward, then an activation, in one kernel (batchNorm's `activation` option): what
   * Sequential runs for a batch norm with a ReLU, GELU or SiLU after it, and models call where
   * they activate a norm's output. Where a subclass or a patch has replaced forward, that
   * forward runs, then the activation as an op of its own.
   */
  forwardActivated(x: Tensor, activation: NormActivation): Tensor {
    if (!Object.hasOwn(normActivations, activation))
      throw new Error(
        `${this.constructor.name}.forwardActivated: activation must be 'relu', 'gelu' or 'silu', got '${String(activation)}'`,
      )
    if (this.forward !== plainForward) return normActivations[activation](this.forward(x))
    return this.normalize(x, activation)
  }

  private normalize(x: Tensor, activation?: NormActivation): Tensor {
    this.checkInput(x)
    if (this.foldedInto !== null) {
      if (this.training)
        throw new Error(
          `${this.constructor.name}: folded into ${this.foldedInto} for inference (foldBatchNorm); load unfolded weights to train`,
        )
      return activation ? normActivations[activation](x) : x
    }
    let factor = this.momentum ?? 0
    const tracked = this.num_batches_tracked
    if (this.training && this.trackRunningStats && tracked) {
      if (this.momentum === null) {
        // The cumulative average needs the count on the host; a fixed momentum does not, so
        // the count is bumped where it lives (no device-to-host read, no stream sync).
        const n = tracked.item() + 1
        tracked.fill_(n)
        factor = 1 / n
      } else {
        const one = full([], 1, { dtype: 'int32', device: tracked.device })
        tracked.addInPlace(one)
        one.dispose()
      }
    }
    // Batch statistics in training, or in eval when there are no running ones to use.
    const useBatchStats = this.training || (this.running_mean === null && this.running_var === null)
    const passStats = !this.training || this.trackRunningStats
    return batchNorm(
      x,
      passStats ? this.running_mean : null,
      passStats ? this.running_var : null,
      this.weight,
      this.bias,
      {
        training: useBatchStats,
        momentum: factor,
        eps: this.eps,
        activation,
      },
    )
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`
  }
}

const plainForward = BatchNormBase.prototype.forward

/** Batch normalisation over [N, C] or [N, C, L] inputs. */
export class BatchNorm1d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3)
      throw new Error(`BatchNorm1d: expected a 2-d or 3-d input [N, C(, L)], got ${shapeStr(x.shape)}`)
  }
}

/** Batch normalisation over [N, C, H, W] inputs. */
export class BatchNorm2d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4) throw new Error(`BatchNorm2d: expected a 4-d input [N, C, H, W], got ${shapeStr(x.shape)}`)
  }
}

export interface LayerNormOptions {
  eps?: number
  elementwiseAffine?: boolean
  /** Whether to learn an additive bias (with elementwiseAffine). */
  bias?: boolean
  dtype?: DType
}

/** Normalises over the trailing `normalizedShape` dims. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[]
  readonly eps: number
  readonly elementwiseAffine: boolean
  weight: Parameter | null
  bias: Parameter | null

  constructor(normalizedShape: number | number[], opts: LayerNormOptions = {}) {
    super()
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape]
    this.normalizedShape.forEach((s, i) => checkPositiveInt('LayerNorm', `normalizedShape[${i}]`, s))
    this.eps = opts.eps ?? 1e-5
    this.elementwiseAffine = opts.elementwiseAffine ?? true
    const dtype = opts.dtype ?? 'float32'
    this.weight = this.elementwiseAffine ? ones_(newParameter(this.normalizedShape, dtype)) : null
    this.bias = this.elementwiseAffine && (opts.bias ?? true) ? zeros_(newParameter(this.normalizedShape, dtype)) : null
  }

  override forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps)
  }

  override extraRepr(): string {
    return `${JSON.stringify(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${this.elementwiseAffine}`
  }
}

export interface GroupNormOptions {
  eps?: number
  affine?: boolean
  dtype?: DType
}

/** Normalises channels in `numGroups` groups, per sample. */
export class GroupNorm extends Module {
  readonly numGroups: number
  readonly numChannels: number
  readonly eps: number
  readonly affine: boolean
  weight: Parameter | null
  bias: Parameter | null

  constructor(numGroups: number, numChannels: number, opts: GroupNormOptions = {}) {
    super()
    this.numGroups = checkPositiveInt('GroupNorm', 'numGroups', numGroups)
    this.numChannels = checkPositiveInt('GroupNorm', 'numChannels', numChannels)
    if (numChannels % numGroups)
      throw new Error(`GroupNorm: numChannels ${numChannels} must be divisible by numGroups ${numGroups}`)
    this.eps = opts.eps ?? 1e-5
    this.affine = opts.affine ?? true
    const dtype = opts.dtype ?? 'float32'
    this.weight = this.affine ? ones_(newParameter([numChannels], dtype)) : null
    this.bias = this.affine ? zeros_(newParameter([numChannels], dtype)) : null
  }

  override forward(x: Tensor): Tensor {
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps)
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.affine}`
  }
}
