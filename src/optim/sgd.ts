// torch.optim.SGD: momentum (the buffer starts as a copy of the first d_p, undampened),
// dampening, Nesterov, L2 weight decay added to the gradient, maximize.
import type { Tensor } from '../tensor/tensor'
import {
  checkFlag,
  checkLr,
  checkNumber,
  Optimizer,
  type ParamGroup,
  type ParamsArg,
  type ParamState,
  type StateSpec,
} from './optimizer'

export type SGDOptions = {
  lr: number
  momentum: number
  dampening: number
  weightDecay: number
  nesterov: boolean
  maximize: boolean
}

export class SGD extends Optimizer<SGDOptions> {
  /** lr is required, in the options or in every group (as in torch). */
  constructor(params: ParamsArg<SGDOptions>, opts: Partial<SGDOptions> = {}) {
    super('SGD', params, { lr: NaN, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false }, opts)
  }

  protected checkGroup(g: SGDOptions, where: string): void {
    checkLr(this.name, where, g.lr)
    checkNumber(this.name, where, 'momentum', g.momentum)
    checkNumber(this.name, where, 'dampening', g.dampening, -Infinity)
    checkNumber(this.name, where, 'weightDecay', g.weightDecay)
    checkFlag(this.name, where, 'nesterov', g.nesterov)
    checkFlag(this.name, where, 'maximize', g.maximize)
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0))
      throw new Error(
        `${this.name}: nesterov momentum needs momentum > 0 and dampening 0, got momentum ${g.momentum}, dampening ${g.dampening} (${where})`,
      )
  }

  protected stateSpec(g: SGDOptions): StateSpec {
    return { tensors: g.momentum !== 0 ? ['momentumBuffer'] : [], numbers: [] }
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<SGDOptions>, state: ParamState): void {
    let buf: Tensor | null = null
    let first = false
    if (g.momentum !== 0) {
      first = state.momentumBuffer === undefined
      if (first) state.momentumBuffer = this.newState(p)
      buf = state.momentumBuffer as Tensor
    }
    p.backend.run('sgdStep', p, grad, buf, g.lr, g.momentum, g.dampening, g.weightDecay, g.nesterov, g.maximize, first)
  }
}
