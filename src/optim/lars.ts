// LARS (You et al. 2017) as timm's Lars implements it: for a parameter whose group adapts,
// d = (g + weightDecay * p) * trustCoefficient * |p| / (|g| + weightDecay * |p| + eps)
// (a ratio of 1 when either norm is 0; with trustClip, min(ratio / lr, 1): LARC), then SGD
// momentum on d. A group adapts when its weightDecay is non-zero or alwaysAdapt is set, so a
// no-decay group (paramGroupsNoDecay: biases and norms) is excluded from the adaptation.
import type { Tensor } from '../tensor/tensor'
import {
  checkFlag,
  checkNumber,
  Optimizer,
  type ParamGroup,
  type ParamsArg,
  type ParamState,
  type StateSpec,
} from './optimizer'

export type LARSOptions = {
  lr: number
  momentum: number
  dampening: number
  weightDecay: number
  nesterov: boolean
  /** η in the paper. */
  trustCoefficient: number
  eps: number
  trustClip: boolean
  alwaysAdapt: boolean
}

export class LARS extends Optimizer<LARSOptions> {
  /** The trust ratio each parameter got at its last step (for logging). */
  readonly lastTrustRatio = new Map<Tensor, number>()

  constructor(params: ParamsArg<LARSOptions>, opts: Partial<LARSOptions> = {}) {
    super(
      'LARS',
      params,
      {
        lr: 1.0,
        momentum: 0,
        dampening: 0,
        weightDecay: 0,
        nesterov: false,
        trustCoefficient: 0.001,
        eps: 1e-8,
        trustClip: false,
        alwaysAdapt: false,
      },
      opts,
    )
  }

  protected checkGroup(g: LARSOptions, where: string): void {
    checkNumber(this.name, where, 'lr', g.lr)
    checkNumber(this.name, where, 'momentum', g.momentum)
    checkNumber(this.name, where, 'dampening', g.dampening, -Infinity)
    checkNumber(this.name, where, 'weightDecay', g.weightDecay)
    checkFlag(this.name, where, 'nesterov', g.nesterov)
    checkNumber(this.name, where, 'trustCoefficient', g.trustCoefficient)
    checkNumber(this.name, where, 'eps', g.eps)
    checkFlag(this.name, where, 'trustClip', g.trustClip)
    checkFlag(this.name, where, 'alwaysAdapt', g.alwaysAdapt)
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0))
      throw new Error(
        `${this.name}: nesterov momentum needs momentum > 0 and dampening 0, got momentum ${g.momentum}, dampening ${g.dampening} (${where})`,
      )
    if (g.trustClip && g.lr <= 0)
      throw new Error(`${this.name}: trustClip divides the trust ratio by lr, which must be > 0 (${where})`)
  }

  protected stateSpec(g: LARSOptions): StateSpec {
    return { tensors: g.momentum !== 0 ? ['momentumBuffer'] : [], numbers: [] }
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<LARSOptions>, state: ParamState): void {
    let buf: Tensor | null = null
    let first = false
    if (g.momentum !== 0) {
      first = state.momentumBuffer === undefined
      if (first) state.momentumBuffer = this.newState(p)
      buf = state.momentumBuffer as Tensor
    }
    const adapt = g.weightDecay !== 0 || g.alwaysAdapt
    const trust = p.backend.run(
      'larsStep',
      p,
      grad,
      buf,
      g.lr,
      g.momentum,
      g.dampening,
      g.weightDecay,
      g.nesterov,
      g.trustCoefficient,
      g.eps,
      g.trustClip,
      adapt,
      first,
    ) as number
    this.lastTrustRatio.set(p, trust)
  }
}
