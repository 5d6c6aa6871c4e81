// An exponential moving average of weights (timm's ModelEmaV2 update,
// ema = ema * decay + (1 - decay) * model, one fused native call per tensor), with
// ModelEmaV3's optional warmup: decay = min(decay, 1 - (1 + step / warmupGamma)^-warmupPower),
// at least minDecay, and 0 (a plain copy) until updateAfterStep updates have passed.
import { isFloating } from '../tensor/dtype'
import { keep } from '../tensor/memory'
import { sameShape, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'

export interface EmaOptions {
  decay?: number
  warmup?: boolean
  warmupGamma?: number
  warmupPower?: number
  minDecay?: number
  updateAfterStep?: number
}

/** Tensors to average: a list, [name, tensor] pairs (e.g. a module's named parameters and
 * buffers), a Map or a record. Non-float tensors (counters) are copied, not averaged. */
export type EmaSource =
  readonly Tensor[] | Iterable<readonly [string, Tensor]> | Map<string, Tensor> | Record<string, Tensor>

export interface EmaStateDict {
  options: Required<EmaOptions>
  numUpdates: number
  shadow: Record<string, Tensor>
}

function entriesOf(fn: string, source: EmaSource): [string, Tensor][] {
  if (source === null || typeof source !== 'object')
    throw new Error(`${fn}: expected tensors (a list, [name, tensor] pairs, a Map or a record)`)
  const raw: unknown[] = Symbol.iterator in source ? [...(source as Iterable<unknown>)] : Object.entries(source)
  return raw.map((e, i) => {
    if (e instanceof Tensor) return [String(i), e]
    if (Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && e[1] instanceof Tensor) return [e[0], e[1]]
    throw new Error(`${fn}: entry ${i} is neither a Tensor nor a [name, Tensor] pair`)
  })
}

function checkOptions(o: Required<EmaOptions>): void {
  const bad = (k: string, want: string) =>
    new Error(
      `ExponentialMovingAverage: ${k} must be ${want}, got ${String((o as unknown as Record<string, unknown>)[k])}`,
    )
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v)
  if (!num(o.decay) || o.decay < 0 || o.decay > 1) throw bad('decay', 'in [0, 1]')
  if (typeof o.warmup !== 'boolean') throw bad('warmup', 'a boolean')
  if (!num(o.warmupGamma) || o.warmupGamma <= 0) throw bad('warmupGamma', '> 0')
  if (!num(o.warmupPower) || o.warmupPower <= 0) throw bad('warmupPower', '> 0')
  if (!num(o.minDecay) || o.minDecay < 0 || o.minDecay > 1) throw bad('minDecay', 'in [0, 1]')
  if (!Number.isInteger(o.updateAfterStep) || o.updateAfterStep < 0) throw bad('updateAfterStep', 'an integer >= 0')
}

export class ExponentialMovingAverage {
  readonly names: string[]
  /** The averaged tensors, owned by this object (contiguous, kept out of scopes). */
  readonly shadow: Tensor[]
  numUpdates = 0
  private opts: Required<EmaOptions>

  constructor(source: EmaSource, opts: EmaOptions = {}) {
    const known = ['decay', 'warmup', 'warmupGamma', 'warmupPower', 'minDecay', 'updateAfterStep']
    for (const k of Object.keys(opts))
      if (!known.includes(k))
        throw new Error(`ExponentialMovingAverage: unknown option '${k}' (known: ${known.join(', ')})`)
    this.opts = {
      decay: 0.9999,
      warmup: false,
      warmupGamma: 1,
      warmupPower: 2 / 3,
      minDecay: 0,
      updateAfterStep: 0,
      ...opts,
    }
    checkOptions(this.opts)
    const entries = entriesOf('ExponentialMovingAverage', source)
    if (new Set(entries.map((e) => e[0])).size !== entries.length)
      throw new Error('ExponentialMovingAverage: duplicate tensor names')
    this.names = entries.map((e) => e[0])
    this.shadow = entries.map(([name, t]) => {
      if (t.disposed) throw new Error(`ExponentialMovingAverage: tensor '${name}' was disposed`)
      return keep(Tensor.empty(t.shape, t.dtype, t.device).copy_(t))
    })
  }

  get options(): Required<EmaOptions> {
    return { ...this.opts }
  }

  /** The decay applied at update number `step` (1 for the first update). */
  decayAt(step: number): number {
    const o = this.opts
    if (!o.warmup && o.updateAfterStep === 0) return o.decay // ModelEmaV2: constant
    const s = Math.max(0, step - o.updateAfterStep - 1)
    if (s <= 0) return 0
    if (!o.warmup) return o.decay
    return Math.max(Math.min(1 - (1 + s / o.warmupGamma) ** -o.warmupPower, o.decay), o.minDecay)
  }

  /** Folds the current values in (same names, order and shapes as at construction); returns the decay used. */
  update(source: EmaSource, step = this.numUpdates + 1): number {
    if (!Number.isInteger(step) || step < 1)
      throw new Error(`ExponentialMovingAverage.update: step must be an integer >= 1, got ${step}`)
    const entries = this.matched('update', source)
    const decay = this.decayAt(step)
    entries.forEach(([, t], i) => {
      const e = this.shadow[i]
      if (!isFloating(e.dtype)) {
        e.copy_(t)
        return
      }
      const src = t.isContiguous() ? t : t.contiguous()
      try {
        e.backend.run('emaUpdate', e, src, decay)
      } finally {
        if (src !== t) src.dispose()
      }
    })
    this.numUpdates = step
    return decay
  }

  /** Writes the averages into the given tensors (e.g. a model's parameters, for evaluation). */
  copyTo(target: EmaSource): void {
    this.matched('copyTo', target).forEach(([, t], i) => t.copy_(this.shadow[i]))
  }

  /** Options, update count and the shadow tensors (this object's own, not copies). */
  stateDict(): EmaStateDict {
    const shadow: Record<string, Tensor> = {}
    this.names.forEach((n, i) => (shadow[n] = this.shadow[i]))
    return { options: { ...this.opts }, numUpdates: this.numUpdates, shadow }
  }

  /** Restores a stateDict() (tensors copied; names and shapes must match exactly). */
  loadStateDict(sd: EmaStateDict): void {
    const fn = 'ExponentialMovingAverage.loadStateDict'
    if (sd === null || typeof sd !== 'object' || sd.shadow === null || typeof sd.shadow !== 'object')
      throw new Error(`${fn}: expected {options, numUpdates, shadow} as stateDict() returns`)
    const opts = { ...this.opts, ...(sd.options ?? {}) }
    checkOptions(opts)
    if (!Number.isInteger(sd.numUpdates) || sd.numUpdates < 0)
      throw new Error(`${fn}: numUpdates must be an integer >= 0, got ${String(sd.numUpdates)}`)
    const keys = Object.keys(sd.shadow)
    const missing = this.names.filter((n) => !(n in sd.shadow))
    const extra = keys.filter((k) => !this.names.includes(k))
    if (missing.length || extra.length)
      throw new Error(
        `${fn}: tensor names differ: missing ${JSON.stringify(missing)}, unexpected ${JSON.stringify(extra)}`,
      )
    this.names.forEach((n, i) => {
      const t = sd.shadow[n]
      if (!(t instanceof Tensor) || t.disposed) throw new Error(`${fn}: '${n}' is not a live Tensor`)
      if (!sameShape(t.shape, this.shadow[i].shape))
        throw new Error(
          `${fn}: '${n}' has shape ${shapeStr(t.shape)} but the average has shape ${shapeStr(this.shadow[i].shape)}`,
        )
    })
    this.names.forEach((n, i) => this.shadow[i].copy_(sd.shadow[n]))
    this.opts = opts
    this.numUpdates = sd.numUpdates
  }

  dispose(): void {
    for (const t of this.shadow) t.dispose()
  }

  private matched(method: string, source: EmaSource): [string, Tensor][] {
    const fn = `ExponentialMovingAverage.${method}`
    const entries = entriesOf(fn, source)
    if (entries.length !== this.shadow.length)
      throw new Error(`${fn}: got ${entries.length} tensors, the average holds ${this.shadow.length}`)
    entries.forEach(([name, t], i) => {
      const e = this.shadow[i]
      const label = `tensor ${i} ('${this.names[i]}')`
      if (name !== this.names[i] && !/^\d+$/.test(name))
        throw new Error(
          `${fn}: ${label} arrived named '${name}'; pass the tensors given at construction, in the same order`,
        )
      if (t.disposed) throw new Error(`${fn}: ${label} was disposed`)
      if (!sameShape(t.shape, e.shape))
        throw new Error(`${fn}: ${label} has shape ${shapeStr(t.shape)}, the average has ${shapeStr(e.shape)}`)
      if (t.dtype !== e.dtype) throw new Error(`${fn}: ${label} has dtype ${t.dtype}, the average has ${e.dtype}`)
      if (t.device !== e.device) throw new Error(`${fn}: ${label} is on ${t.device}, the average on ${e.device}`)
    })
    return entries
  }
}
