// Module: the base of every layer and model, with PyTorch's semantics.
//
// Registration follows torch.nn.Module.__setattr__: assigning a Parameter or a Module to a
// property registers it under the property's name (`this.conv1 = new Conv2d(...)` gives
// `conv1.weight`); buffers, being plain tensors, need registerBuffer (as in PyTorch), which
// also allows PyTorch's exact snake_case keys (`running_mean`). Plain property assignments
// are found by scanning own properties in creation order (declaration order for class
// fields), lazily, before any traversal and before each explicit registration, so names keep
// the order in which the properties were made.
// A registered name becomes an accessor: later assignments are checked (a Tensor is not a
// Parameter), and buffers assigned later are kept out of scopes like the first one.
import { noGrad } from '../autograd/grad-mode'
import { isFloating, type Device, type DType } from '../tensor/dtype'
import { keep } from '../tensor/memory'
import { sameShape, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { Parameter } from './parameter'

type SlotKind = 'parameter' | 'buffer' | 'module'

interface Slot {
  kind: SlotKind
  value: Tensor | Module | null
  persistent: boolean
}

export interface LoadStateDictOptions {
  /** Missing and unexpected keys are errors (default true). Shape mismatches always are. */
  strict?: boolean
}

export interface LoadStateDictResult {
  missingKeys: string[]
  unexpectedKeys: string[]
}

export interface StateDictOptions {
  prefix?: string
  /** Return the Parameters and buffers themselves rather than detached views (default false). */
  keepVars?: boolean
}

const isDevice = (v: string): v is Device => v === 'cpu' || v === 'cuda'

export class Module {
  /** Set by train()/eval(); layers such as Dropout and BatchNorm read it. */
  training = true
  readonly #slots = new Map<string, Slot>()

  /** The computation. Subclasses override it with their own signature. */
  forward(..._args: unknown[]): unknown {
    throw new Error(`${this.constructor.name}: forward() is not implemented`)
  }

  /** Calls forward (JavaScript has no __call__): `m.call(x)` is `m.forward(x)`. */
  call<M extends Module>(this: M, ...args: Parameters<M['forward']>): ReturnType<M['forward']> {
    return this.forward(...args) as ReturnType<M['forward']>
  }

  // ------------------------------------------------------------ registration

  registerParameter(name: string, param: Parameter | null): void {
    if (param !== null && !(param instanceof Parameter))
      throw new Error(
        `${this.constructor.name}.registerParameter: '${name}' must be a Parameter or null (wrap a tensor: new Parameter(t))`,
      )
    this.#register('registerParameter', name, 'parameter', param, true)
  }

  /** A tensor that is state but not a parameter (running statistics, say); persistent ones go in the state dict. */
  registerBuffer(name: string, tensor: Tensor | null, opts: { persistent?: boolean } = {}): void {
    if (tensor !== null && !(tensor instanceof Tensor))
      throw new Error(`${this.constructor.name}.registerBuffer: '${name}' must be a Tensor or null`)
    if (tensor instanceof Parameter)
      throw new Error(`${this.constructor.name}.registerBuffer: '${name}' is a Parameter; use registerParameter`)
    this.#register('registerBuffer', name, 'buffer', tensor, opts.persistent ?? true)
  }

  registerModule(name: string, module: Module | null): void {
    if (module !== null && !(module instanceof Module))
      throw new Error(`${this.constructor.name}.registerModule: '${name}' must be a Module or null`)
    this.#register('registerModule', name, 'module', module, true)
  }

  #register(op: string, name: string, kind: SlotKind, value: Tensor | Module | null, persistent: boolean): void {
    if (typeof name !== 'string' || name === '' || name.includes('.'))
      throw new Error(
        `${this.constructor.name}.${op}: name must be a non-empty string without '.', got ${JSON.stringify(name)}`,
      )
    this.#adopt()
    // As in torch, re-registering is allowed only over the same kind (or an unset property).
    const slot = this.#slots.get(name)
    const current = (this as unknown as Record<string, unknown>)[name]
    if (slot ? slot.kind !== kind : name in this && current !== undefined && current !== null)
      throw new Error(
        `${this.constructor.name}.${op}: attribute '${name}' already exists${slot ? ` as a ${slot.kind}` : ''}`,
      )
    if (slot) {
      Object.assign(slot, { kind, value: null, persistent })
      this.#assign(name, value)
    } else {
      this.#define(name, kind, value, persistent)
    }
  }

  #define(name: string, kind: SlotKind, value: Tensor | Module | null, persistent: boolean): void {
    const slot: Slot = { kind, value: null, persistent }
    this.#slots.set(name, slot)
    Object.defineProperty(this, name, {
      get: () => slot.value,
      set: (v: unknown) => this.#assign(name, v),
      enumerable: true,
      configurable: true,
    })
    this.#assign(name, value)
  }

  /** Assignment to a registered name, with torch's rules on what may replace what. */
  #assign(name: string, v: unknown): void {
    const slot = this.#slots.get(name) as Slot
    const what = `${this.constructor.name}: cannot assign ${describe(v)} to ${slot.kind} '${name}'`
    if (v === null || v === undefined) slot.value = null
    else if (v instanceof Parameter) Object.assign(slot, { kind: 'parameter', value: v })
    else if (v instanceof Module) Object.assign(slot, { kind: 'module', value: v })
    else if (v instanceof Tensor) {
      if (slot.kind !== 'buffer')
        throw new Error(`${what} (expected a ${slot.kind === 'parameter' ? 'Parameter' : 'Module'} or null)`)
      slot.value = keep(v)
    } else
      throw new Error(
        `${what} (expected a ${slot.kind === 'parameter' ? 'Parameter' : slot.kind === 'buffer' ? 'Tensor' : 'Module'} or null)`,
      )
  }

  /** Registers Parameters and Modules assigned to plain properties since the last scan. */
  #adopt(): void {
    const self = this as unknown as Record<string, unknown>
    for (const key of Object.keys(this)) {
      if (this.#slots.has(key)) continue
      const v = self[key]
      if (v instanceof Parameter) this.#define(key, 'parameter', v, true)
      else if (v instanceof Module) this.#define(key, 'module', v, true)
    }
  }

  /** Drops a registered name (torch's `del module.name`); containers use it to renumber. */
  protected unregister(name: string): void {
    if (this.#slots.delete(name)) delete (this as unknown as Record<string, unknown>)[name]
  }

  #own(kind: SlotKind, persistentOnly = false): [string, Tensor | Module][] {
    this.#adopt()
    const out: [string, Tensor | Module][] = []
    for (const [name, s] of this.#slots)
      if (s.kind === kind && s.value !== null && (!persistentOnly || s.persistent)) out.push([name, s.value])
    return out
  }

  // ------------------------------------------------------------ traversal

  namedChildren(): [string, Module][] {
    return this.#own('module') as [string, Module][]
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m)
  }

  /** This module and every descendant, depth first, each once (shared modules too). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = []
    const seen = new Set<Module>()
    const visit = (m: Module, p: string) => {
      if (seen.has(m)) return
      seen.add(m)
      out.push([p, m])
      for (const [name, c] of m.namedChildren()) visit(c, p ? `${p}.${name}` : name)
    }
    visit(this, prefix)
    return out
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m)
  }

  #namedTensors(kind: 'parameter' | 'buffer', recurse: boolean): [string, Tensor][] {
    const out: [string, Tensor][] = []
    const seen = new Set<Tensor>()
    for (const [p, m] of recurse ? this.namedModules() : [['', this] as [string, Module]])
      for (const [name, t] of m.#own(kind) as [string, Tensor][]) {
        if (seen.has(t)) continue
        seen.add(t)
        out.push([p ? `${p}.${name}` : name, t])
      }
    return out
  }

  /** [name, Parameter] pairs in PyTorch's order; a parameter shared by two modules appears once. */
  namedParameters(recurse = true): [string, Parameter][] {
    return this.#namedTensors('parameter', recurse) as [string, Parameter][]
  }

  parameters(recurse = true): Parameter[] {
    return this.namedParameters(recurse).map(([, p]) => p)
  }

  namedBuffers(recurse = true): [string, Tensor][] {
    return this.#namedTensors('buffer', recurse)
  }

  buffers(recurse = true): Tensor[] {
    return this.namedBuffers(recurse).map(([, b]) => b)
  }

  /** The number of parameter elements (each shared parameter counted once). */
  numParameters(trainableOnly = false): number {
    return this.parameters().reduce((n, p) => n + (trainableOnly && !p.requiresGrad ? 0 : p.numel), 0)
  }

  // ------------------------------------------------------------ state dicts

  /**
   * Parameters and persistent buffers by their dotted names (`layer1.0.conv1.weight`), each
   * module's parameters then its buffers then its children, as in PyTorch. Values are
   * detached views sharing the module's memory unless keepVars.
   */
  stateDict(opts: StateDictOptions = {}): Record<string, Tensor> {
    const out: Record<string, Tensor> = {}
    const path: Module[] = []
    const visit = (m: Module, prefix: string) => {
      if (path.includes(m))
        throw new Error(`stateDict: module '${prefix.slice(0, -1)}' (${m.constructor.name}) contains itself`)
      path.push(m)
      for (const [name, t] of [...m.#own('parameter'), ...m.#own('buffer', true)] as [string, Tensor][])
        out[prefix + name] = opts.keepVars ? t : t.detach()
      for (const [name, c] of m.namedChildren()) visit(c, `${prefix}${name}.`)
      path.pop()
    }
    visit(this, opts.prefix ?? '')
    return out
  }

  /**
   * Copies `stateDict` into this module's parameters and buffers (casting dtypes, keeping the
   * tensors' identity). Nothing is copied unless everything fits: shape mismatches, and with
   * strict (the default) missing or unexpected keys, throw one error listing all of them.
   */
  loadStateDict(stateDict: Record<string, Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = opts.strict ?? true
    const name = this.constructor.name
    if (stateDict === null || typeof stateDict !== 'object')
      throw new Error(`loadStateDict: expected an object of name -> Tensor for ${name}`)
    const own = this.stateDict({ keepVars: true })
    const missingKeys = Object.keys(own).filter((k) => !(k in stateDict))
    const unexpectedKeys = Object.keys(stateDict).filter((k) => !(k in own))
    const problems: string[] = []
    if (strict && missingKeys.length) problems.push(`missing keys (${missingKeys.length}): ${missingKeys.join(', ')}`)
    if (strict && unexpectedKeys.length)
      problems.push(`unexpected keys (${unexpectedKeys.length}): ${unexpectedKeys.join(', ')}`)
    const pairs: [Tensor, Tensor][] = []
    for (const [key, dst] of Object.entries(own)) {
      if (!(key in stateDict)) continue
      const src = stateDict[key]
      if (!(src instanceof Tensor)) problems.push(`${key}: expected a Tensor, got ${describe(src)}`)
      else if (src.disposed) problems.push(`${key}: the tensor was disposed`)
      else if (!sameShape(src.shape, dst.shape))
        problems.push(
          `shape mismatch for ${key}: the state dict has ${shapeStr(src.shape)}, the model has ${shapeStr(dst.shape)}`,
        )
      else pairs.push([dst, src])
    }
    if (problems.length)
      throw new Error(`loadStateDict: error(s) loading a state dict into ${name}:\n  ${problems.join('\n  ')}`)
    noGrad(() => {
      for (const [dst, src] of pairs) if (dst !== src) dst.copy_(src)
    })
    return { missingKeys, unexpectedKeys }
  }

  // ------------------------------------------------------------ modes and bulk changes

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode
    return this
  }

  eval(): this {
    return this.train(false)
  }

  /** Sets requiresGrad on every parameter: requiresGrad_(false) freezes the module. */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag)
    return this
  }

  /** Clears every parameter's gradient: to null by default (PyTorch 2's set_to_none), else to zeros in place. */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      if (!p.grad) continue
      if (setToNone) p.grad = null
      else p.grad.zero_()
    }
  }

  /** Calls fn on every descendant, then on this module (children first, as in PyTorch). */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn)
    fn(this)
    return this
  }

  /**
   * Converts floating-point parameters and buffers to a dtype, or moves everything to a
   * device. Parameters keep their identity (their memory is swapped), so an optimizer made
   * before the call still holds them.
   */
  to(target: DType | Device): this {
    const dtypeOnly = !isDevice(target)
    noGrad(() => {
      for (const m of this.modules())
        for (const [name, slot] of m.#slots) {
          const t = slot.value
          if (!(t instanceof Tensor) || (dtypeOnly && !isFloating(t.dtype))) continue
          const moved = t.to(target)
          if (moved === t) continue
          if (t instanceof Parameter) {
            t.setData(moved)
            moved.dispose()
            if (t.grad) t.grad = keep(t.grad.to(target))
          } else {
            m.#assign(name, moved)
          }
        }
    })
    return this
  }

  float(): this {
    return this.to('float32')
  }

  double(): this {
    return this.to('float64')
  }

  // ------------------------------------------------------------ printing

  /** The layer's settings for toString (torch's extra_repr). */
  extraRepr(): string {
    return ''
  }

  toString(): string {
    const extra = this.extraRepr()
    const children = this.namedChildren()
    if (!children.length) return `${this.constructor.name}(${extra})`
    const lines = [...(extra ? extra.split('\n') : []), ...children.map(([n, c]) => `(${n}): ${c.toString()}`)]
    return `${this.constructor.name}(\n  ${lines.join('\n').split('\n').join('\n  ')}\n)`
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (v instanceof Tensor) return `a Tensor of shape ${shapeStr(v.shape)}`
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`
  return `a ${typeof v}`
}
