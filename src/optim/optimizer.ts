// The optimizer base: parameter groups, per-parameter state, zeroGrad, step's argument
// checks and state dicts. Subclasses supply the hyperparameter defaults and checks, the
// state each parameter carries, and update(), which makes one fused native kernel call per
// parameter. State tensors are keep()-ed: they belong to the optimizer and outlive scopes.
import { enableGrad } from '../autograd/grad-mode'
import { isFloating } from '../tensor/dtype'
import { keep } from '../tensor/memory'
import { sameShape, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'

export type StateValue = Tensor | number
export type ParamState = Record<string, StateValue>

/** Hyperparameter values a group can hold (numbers, flags, pairs like Adam's betas). */
export type HyperValue = number | boolean | readonly number[]
export type Hyper = { lr: number } & Record<string, HyperValue>

/** A live parameter group: hyperparameters and the parameters they apply to. initialLr is
 * set by an LRScheduler (torch's 'initial_lr'). */
export type ParamGroup<H extends Hyper> = H & { params: Tensor[]; initialLr?: number }

/** What a constructor accepts per group: its parameters and any hyperparameter overrides. */
export type ParamGroupSpec<H extends Hyper> = Partial<H> & { params: Tensor | Iterable<Tensor>; initialLr?: number }

export type ParamsArg<H extends Hyper> = Tensor | Iterable<Tensor> | Iterable<ParamGroupSpec<H>>

/** Like torch's: per-parameter state keyed by the parameter's position across the groups
 * (in group order), and each group's hyperparameters with those positions. */
export interface OptimizerStateDict {
  state: Record<number, ParamState>
  paramGroups: (Record<string, HyperValue> & { params: number[] })[]
}

/** The state a parameter carries under a group's settings: required keys, exactly. */
export interface StateSpec {
  tensors: string[]
  numbers: string[]
}

const isTensor = (v: unknown): v is Tensor => v instanceof Tensor

function copyHyper(v: HyperValue): HyperValue {
  return Array.isArray(v) ? [...v] : v
}

export abstract class Optimizer<H extends Hyper> {
  readonly paramGroups: ParamGroup<H>[] = []
  readonly state = new Map<Tensor, ParamState>()
  readonly defaults: H
  private readonly hyperKeys: string[]

  /**
   * @param name the class name, used in every error
   * @param builtin every hyperparameter with its default (the set of accepted keys)
   * @param opts the caller's defaults for all groups
   */
  protected constructor(
    readonly name: string,
    params: ParamsArg<H>,
    builtin: H,
    opts: Partial<H>,
  ) {
    this.hyperKeys = Object.keys(builtin)
    if (opts === null || typeof opts !== 'object')
      throw new Error(`${name}: options must be an object, got ${String(opts)}`)
    this.checkKeys(opts as Record<string, unknown>, 'the options')
    const defaults: Record<string, HyperValue> = { ...builtin }
    for (const [k, v] of Object.entries(opts)) if (v !== undefined) defaults[k] = copyHyper(v as HyperValue)
    this.defaults = defaults as H
    if (isTensor(params)) params = [params]
    if (
      params === null ||
      typeof params !== 'object' ||
      typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function'
    )
      throw new Error(`${name}: params must be a tensor, an iterable of tensors or a list of parameter groups`)
    const list = [...(params as Iterable<unknown>)]
    if (list.length === 0) throw new Error(`${name}: got an empty parameter list`)
    if (list.every(isTensor)) this.addParamGroup({ params: list } as unknown as ParamGroupSpec<H>)
    else if (list.some(isTensor))
      throw new Error(
        `${name}: params mixes tensors and parameter groups; wrap the tensors in a group ({params: [...]})`,
      )
    else for (const g of list) this.addParamGroup(g as ParamGroupSpec<H>)
  }

  /** Checks one group's merged hyperparameters; `where` names it in errors. */
  protected abstract checkGroup(group: H, where: string): void
  /** The state a parameter has once it has been stepped under this group. */
  protected abstract stateSpec(group: H): StateSpec
  /** Updates one parameter: grad is contiguous, same shape, dtype and device. */
  protected abstract update(param: Tensor, grad: Tensor, group: ParamGroup<H>, state: ParamState): void

  addParamGroup(spec: ParamGroupSpec<H>): void {
    const gi = this.paramGroups.length
    const where = `parameter group ${gi}`
    if (spec === null || typeof spec !== 'object' || !('params' in spec))
      throw new Error(`${this.name}: ${where} must be an object with a 'params' list, got ${String(spec)}`)
    const { params: raw, ...hyper } = spec as ParamGroupSpec<H> & Record<string, unknown>
    if (!isTensor(raw) && (raw == null || typeof (raw as Iterable<Tensor>)[Symbol.iterator] !== 'function'))
      throw new Error(`${this.name}: ${where}: 'params' must be a tensor or an iterable of tensors`)
    const params = isTensor(raw) ? [raw] : [...(raw as Iterable<Tensor>)]
    const seen = new Set<Tensor>()
    params.forEach((p, i) => {
      const at = `parameter ${i} of ${where}`
      if (!isTensor(p)) throw new Error(`${this.name}: ${at} is not a Tensor (got ${typeof p})`)
      if (p.disposed) throw new Error(`${this.name}: ${at} (shape ${shapeStr(p.shape)}) was disposed`)
      if (!isFloating(p.dtype))
        throw new Error(`${this.name}: ${at} has dtype ${p.dtype}; only float32 and float64 tensors can be optimized`)
      if (!p.isLeaf)
        throw new Error(
          `${this.name}: ${at} (shape ${shapeStr(p.shape)}) is not a leaf tensor (it has a grad_fn); optimize the leaf it came from`,
        )
      if (seen.has(p)) throw new Error(`${this.name}: ${at} appears more than once in the group`)
      seen.add(p)
    })
    for (const [k, g] of this.paramGroups.entries())
      for (const p of g.params)
        if (seen.has(p))
          throw new Error(
            `${this.name}: a parameter of shape ${shapeStr(p.shape)} is in both parameter group ${k} and ${where}`,
          )
    const group: Record<string, unknown> = this.mergeGroup(hyper, where)
    group.params = params
    this.paramGroups.push(group as ParamGroup<H>)
  }

  /**
   * Sets every gradient to null (PyTorch 2's default), disposing it at once: a leaf's
   * gradient tensor belongs to the leaf. With setToNone false, zeroes them in place instead.
   */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups)
      for (const p of g.params) {
        if (!p.grad) continue
        if (setToNone) {
          p.grad.dispose()
          p.grad = null
        } else if (!p.grad.disposed) {
          p.grad.zero_()
        }
      }
  }

  /**
   * Updates every parameter that has a gradient (one native kernel call each). A closure, if
   * given, runs first with gradients enabled (it usually recomputes the loss and calls
   * backward) and its result is returned, as torch's step(closure) does.
   */
  step<L = undefined>(closure?: () => L): L | undefined {
    const loss = closure ? enableGrad(closure) : undefined
    this.paramGroups.forEach((group, gi) =>
      group.params.forEach((p, pi) => {
        if (p.grad === null || p.grad === undefined) return
        const grad = this.checkedGrad(p, p.grad, `parameter ${pi} of parameter group ${gi}`)
        let state = this.state.get(p)
        if (!state) this.state.set(p, (state = {}))
        try {
          this.update(p, grad, group, state)
        } finally {
          if (grad !== p.grad) grad.dispose()
        }
      }),
    )
    return loss
  }

  private checkedGrad(p: Tensor, grad: unknown, at: string): Tensor {
    const fail = (why: string): never => {
      throw new Error(`${this.name}.step: ${at} (shape ${shapeStr(p.shape)}, ${p.dtype}): ${why}`)
    }
    if (p.disposed) fail('the parameter was disposed')
    if (!p.isContiguous())
      fail(
        `the parameter is not contiguous (strides ${shapeStr(p.strides)}); optimizers update parameters in place over flat memory`,
      )
    if (!isTensor(grad)) return fail(`.grad is not a Tensor (got ${typeof grad})`)
    if (grad.disposed) fail('its .grad was disposed')
    if (!sameShape(grad.shape, p.shape)) fail(`.grad has shape ${shapeStr(grad.shape)}`)
    if (grad.dtype !== p.dtype) fail(`.grad has dtype ${grad.dtype}`)
    if (grad.device !== p.device) fail(`.grad is on ${grad.device}, the parameter on ${p.device}`)
    // Leaf gradients from backward are contiguous; one assigned by hand may not be.
    return grad.isContiguous() ? grad : grad.contiguous()
  }

  /** A zero-filled state tensor shaped like p, owned by the optimizer (outlives scopes). */
  protected newState(p: Tensor): Tensor {
    return keep(Tensor.empty(p.shape, p.dtype, p.device).zero_())
  }

  /**
   * The hyperparameters and state. The state tensors are the optimizer's own, not copies
   * (as in torch): serialise or clone them before the next step() changes them.
   */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>()
    const paramGroups = this.paramGroups.map((g) => {
      const out: Record<string, HyperValue> = {}
      for (const [k, v] of Object.entries(g)) if (k !== 'params' && v !== undefined) out[k] = copyHyper(v as HyperValue)
      return { ...out, params: g.params.map((p) => (index.set(p, index.size), index.size - 1)) }
    })
    const state: Record<number, ParamState> = {}
    for (const [p, s] of this.state) {
      const i = index.get(p)
      if (i !== undefined && Object.keys(s).length) state[i] = { ...s }
    }
    return { state, paramGroups }
  }

  /**
   * Restores hyperparameters and state saved by stateDict() from an optimizer of the same
   * class over parameters of the same shapes in the same group layout. Tensors are copied
   * (cast to each parameter's dtype and device), so the caller may dispose the dict. Every
   * check runs before anything changes: a failed load leaves the optimizer as it was.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const fn = `${this.name}.loadStateDict`
    if (
      sd === null ||
      typeof sd !== 'object' ||
      !Array.isArray(sd.paramGroups) ||
      sd.state === null ||
      typeof sd.state !== 'object'
    )
      throw new Error(`${fn}: expected {state, paramGroups} as stateDict() returns`)
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw new Error(
        `${fn}: the state dict has ${sd.paramGroups.length} parameter groups, this optimizer has ${this.paramGroups.length}`,
      )
    const byIndex = new Map<number, { p: Tensor; gi: number; pi: number }>()
    const groups = sd.paramGroups.map((saved, gi) => {
      const cur = this.paramGroups[gi]
      if (saved === null || typeof saved !== 'object' || !Array.isArray(saved.params))
        throw new Error(`${fn}: parameter group ${gi} has no 'params' list`)
      if (saved.params.length !== cur.params.length)
        throw new Error(
          `${fn}: parameter group ${gi} has ${saved.params.length} parameters in the state dict and ${cur.params.length} in this optimizer`,
        )
      saved.params.forEach((idx, pi) => {
        if (!Number.isInteger(idx) || byIndex.has(idx))
          throw new Error(`${fn}: parameter group ${gi} lists an invalid or repeated index ${idx}`)
        byIndex.set(idx, { p: cur.params[pi], gi, pi })
      })
      const { params: _ignored, ...hyper } = saved
      return this.mergeGroup(hyper, `loaded parameter group ${gi}`)
    })
    const pending: { p: Tensor; tensors: [string, Tensor][]; restored: ParamState }[] = []
    for (const [key, entries] of Object.entries(sd.state)) {
      const target = byIndex.get(Number(key))
      if (!target)
        throw new Error(`${fn}: the state dict has state for parameter ${key}, which no parameter group lists`)
      const { p, gi, pi } = target
      const at = `state of parameter ${pi} of parameter group ${gi} (shape ${shapeStr(p.shape)})`
      if (entries === null || typeof entries !== 'object') throw new Error(`${fn}: ${at} is not an object`)
      const spec = this.stateSpec(groups[gi] as H)
      const expected = new Set([...spec.tensors, ...spec.numbers])
      for (const k of Object.keys(entries))
        if (!expected.has(k))
          throw new Error(
            `${fn}: ${at} has an unexpected entry '${k}' (expected ${[...expected].join(', ') || 'none'})`,
          )
      const restored: ParamState = {}
      for (const k of spec.numbers) {
        let v: unknown = entries[k]
        if (isTensor(v) && v.numel === 1 && !v.disposed) v = v.item() // torch keeps 'step' as a tensor
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
          throw new Error(`${fn}: ${at}: '${k}' must be a non-negative integer, got ${String(v)}`)
        restored[k] = v
      }
      const tensors: [string, Tensor][] = []
      for (const k of spec.tensors) {
        const v = entries[k]
        if (!isTensor(v)) throw new Error(`${fn}: ${at}: '${k}' is missing or not a Tensor`)
        if (v.disposed) throw new Error(`${fn}: ${at}: '${k}' was disposed`)
        if (!sameShape(v.shape, p.shape))
          throw new Error(
            `${fn}: ${at}: '${k}' has shape ${shapeStr(v.shape)} but the parameter has shape ${shapeStr(p.shape)}`,
          )
        if (!isFloating(v.dtype))
          throw new Error(`${fn}: ${at}: '${k}' has dtype ${v.dtype}, expected a floating-point tensor`)
        tensors.push([k, v])
      }
      pending.push({ p, tensors, restored })
    }
    // Everything checked: commit. Tensors are copied only now, so a failure above leaks nothing.
    const newState = new Map<Tensor, ParamState>()
    for (const { p, tensors, restored } of pending) {
      for (const [k, v] of tensors) restored[k] = keep(Tensor.empty(p.shape, p.dtype, p.device).copy_(v))
      newState.set(p, restored)
    }
    this.disposeState()
    for (const [p, s] of newState) this.state.set(p, s)
    groups.forEach((g, gi) => {
      const cur = this.paramGroups[gi] as Record<string, unknown>
      for (const k of Object.keys(cur)) if (k !== 'params') delete cur[k]
      Object.assign(cur, g)
    })
  }

  /** Frees the state tensors now (the optimizer starts fresh if stepped again). */
  dispose(): void {
    this.disposeState()
  }

  private disposeState(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (isTensor(v)) v.dispose()
    this.state.clear()
  }

  /** The defaults overridden by a group's own values, checked. */
  private mergeGroup(hyper: Record<string, unknown>, where: string): Record<string, unknown> {
    this.checkKeys(hyper, where)
    const group: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(this.defaults)) group[k] = copyHyper(v as HyperValue)
    for (const [k, v] of Object.entries(hyper)) if (v !== undefined) group[k] = copyHyper(v as HyperValue)
    if (group.initialLr !== undefined) checkNumber(this.name, where, 'initialLr', group.initialLr)
    this.checkGroup(group as H, where)
    return group
  }

  private checkKeys(obj: Record<string, unknown>, where: string): void {
    for (const k of Object.keys(obj))
      if (k !== 'initialLr' && !this.hyperKeys.includes(k))
        throw new Error(`${this.name}: unknown option '${k}' in ${where} (known: ${this.hyperKeys.join(', ')})`)
  }
}

// ---- hyperparameter checks shared by the optimizers ----

export function checkNumber(
  opt: string,
  where: string,
  key: string,
  v: unknown,
  lo = 0,
  hi = Infinity,
  hiOpen = false,
): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || (hiOpen ? v >= hi : v > hi)) {
    const range = hi === Infinity ? `>= ${lo}` : `in [${lo}, ${hi}${hiOpen ? ')' : ']'}`
    throw new Error(`${opt}: ${key} must be a finite number ${range}, got ${String(v)} (${where})`)
  }
  return v
}

export function checkFlag(opt: string, where: string, key: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new Error(`${opt}: ${key} must be a boolean, got ${String(v)} (${where})`)
  return v
}

export function checkLr(opt: string, where: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v))
    throw new Error(
      `${opt}: lr is required: pass it in the options or in every parameter group (${where} has ${String(v)})`,
    )
  return checkNumber(opt, where, 'lr', v)
}
