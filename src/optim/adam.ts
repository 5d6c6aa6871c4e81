// torch.optim.Adam (L2 weight decay added to the gradient) and AdamW (decoupled: the
// parameter shrinks by lr * weightDecay before the update), both with bias correction,
// optional AMSGrad and maximize, as torch 1.13's single-tensor path computes them.
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

export type AdamOptions = {
  lr: number
  betas: readonly [number, number]
  eps: number
  weightDecay: number
  amsgrad: boolean
  maximize: boolean
}

abstract class AdamBase extends Optimizer<AdamOptions> {
  protected abstract readonly kernel: 'adamStep' | 'adamwStep'

  protected checkGroup(g: AdamOptions, where: string): void {
    checkNumber(this.name, where, 'lr', g.lr)
    const b = g.betas as unknown
    if (!Array.isArray(b) || b.length !== 2)
      throw new Error(`${this.name}: betas must be a pair [beta1, beta2], got ${JSON.stringify(b)} (${where})`)
    checkNumber(this.name, where, 'betas[0]', b[0], 0, 1, true)
    checkNumber(this.name, where, 'betas[1]', b[1], 0, 1, true)
    checkNumber(this.name, where, 'eps', g.eps)
    checkNumber(this.name, where, 'weightDecay', g.weightDecay)
    checkFlag(this.name, where, 'amsgrad', g.amsgrad)
    checkFlag(this.name, where, 'maximize', g.maximize)
  }

  protected stateSpec(g: AdamOptions): StateSpec {
    return { tensors: g.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq'], numbers: ['step'] }
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<AdamOptions>, state: ParamState): void {
    if (state.step === undefined) {
      state.step = 0
      state.expAvg = this.newState(p)
      state.expAvgSq = this.newState(p)
    }
    // AMSGrad switched on mid-run starts its running max from zero.
    if (g.amsgrad && state.maxExpAvgSq === undefined) state.maxExpAvgSq = this.newState(p)
    const step = (state.step as number) + 1
    p.backend.run(
      this.kernel,
      p,
      grad,
      state.expAvg,
      state.expAvgSq,
      g.amsgrad ? state.maxExpAvgSq : null,
      g.lr,
      g.betas[0],
      g.betas[1],
      g.eps,
      g.weightDecay,
      step,
      g.maximize,
    )
    state.step = step
  }
}

/** Adam; weightDecay is L2 regularisation (added to the gradient). Defaults as torch's. */
export class Adam extends AdamBase {
  protected readonly kernel = 'adamStep' as const
  constructor(params: ParamsArg<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(
      'Adam',
      params,
      { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false },
      opts,
    )
  }
}

/** AdamW: decoupled weight decay (default 0.01, as torch's). */
export class AdamW extends AdamBase {
  protected readonly kernel = 'adamwStep' as const
  constructor(params: ParamsArg<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(
      'AdamW',
      params,
      { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false },
      opts,
    )
  }
}
