// The Tensor: a typed, strided view of a storage on one device, with its autograd state.
// The op methods (`a.add(b)`, `loss.backward()`, ...) belong to the layers above: src/ops/
// methods.ts attaches them to the prototype, each forwarding to the op function of the same
// name, so `a.add(b)` and `add(a, b)` are the same code and this module needs no op to load.
import type { Storage } from '../backend/backend'
import { backendFor, type Backend } from '../backend'
import type { GradNode } from '../autograd/node'
import { dtypeBytes, isFloating, type Device, type DType, type TypedArray } from './dtype'
import { track } from './memory'
import { contiguousStrides, numelOf, shapeStr } from './shape'

export type Scalar = number
export type TensorLike = Tensor | number
export type NestedArray = number | boolean | NestedArray[]

export class Tensor {
  /** Lets scope() and others recognise tensors without importing this module. */
  readonly isTensor = true
  requiresGrad = false
  grad: Tensor | null = null
  gradFn: GradNode | null = null
  /** Set by retainGrad(): a non-leaf that keeps its .grad after backward. */
  retainsGrad = false
  /** The CPU addon's packed layout of this view (src/backend/kernel-calls.ts), made on first use. */
  packedLayout: Float64Array | undefined = undefined
  private disposedFlag = false

  /** Internal: use the creation functions (tensor, zeros, ...) or the view ops. */
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: number[],
    readonly strides: number[],
    readonly dtype: DType,
  ) {
    track(this)
  }

  /** An uninitialised contiguous tensor (the op layer's output allocator). */
  static empty(shape: readonly number[], dtype: DType = 'float32', device: Device = 'cpu'): Tensor {
    const n = numelOf(shape)
    if (dtype === 'bfloat16' && device !== 'cpu')
      throw new Error(`bfloat16 tensors live on the CPU only: the CUDA kernels take float32 (asked for ${device})`)
    const storage = backendFor(device).allocate(n * dtypeBytes[dtype])
    return new Tensor(storage, 0, [...shape], contiguousStrides(shape), dtype)
  }

  /** A new view of this tensor's storage (shares memory; autograd is the caller's job). */
  asView(shape: number[], strides: number[], offset = this.offset): Tensor {
    this.checkAlive('view')
    this.storage.retain()
    return new Tensor(this.storage, offset, shape, strides, this.dtype)
  }

  get device(): Device {
    return this.storage.device
  }
  get backend(): Backend {
    return backendFor(this.storage.device)
  }
  get ndim(): number {
    return this.shape.length
  }
  get numel(): number {
    return numelOf(this.shape)
  }
  get itemSize(): number {
    return dtypeBytes[this.dtype]
  }
  get isLeaf(): boolean {
    return this.gradFn === null
  }
  get disposed(): boolean {
    return this.disposedFlag
  }

  size(dim?: number): number | number[] {
    if (dim === undefined) return [...this.shape]
    const d = dim < 0 ? dim + this.ndim : dim
    if (d < 0 || d >= this.ndim) throw new Error(`size: dim ${dim} out of range for shape ${shapeStr(this.shape)}`)
    return this.shape[d]
  }

  isContiguous(): boolean {
    let expected = 1
    for (let i = this.ndim - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== expected) return false
      expected *= this.shape[i]
    }
    return true
  }

  checkAlive(op: string): void {
    if (this.disposedFlag || this.storage.disposed)
      throw new Error(`${op}: the tensor of shape ${shapeStr(this.shape)} was disposed`)
  }

  /**
   * Frees this tensor's reference to its memory now; the memory goes when no view holds it.
   * The graph through it stays (a later backward still reaches its inputs); what a scope held
   * for this tensor's graph is freed.
   */
  dispose(): void {
    if (this.disposedFlag) return
    this.disposedFlag = true
    this.storage.release()
    this.gradFn?.dropHolds()
  }

  // ---- reading out ----

  /** A copy of the elements in row-major order, as a typed array (bool reads as Uint8Array,
   * bfloat16 as the Float32Array of its values, which widen exactly). */
  data(): TypedArray {
    this.checkAlive('data')
    const hostType = this.dtype === 'bfloat16' ? 'float32' : this.dtype
    const c = this.isContiguous() && hostType === this.dtype ? this : Tensor.empty(this.shape, hostType, this.device)
    if (c !== this) this.backend.copy(c, this)
    const out = this.backend.toHost(c)
    if (c !== this) c.dispose()
    return out
  }

  /** The elements as nested JS arrays (numbers; booleans for bool tensors). */
  toArray(): NestedArray {
    const flat = this.data()
    const isBool = this.dtype === 'bool'
    let i = 0
    const build = (d: number): NestedArray => {
      if (d === this.ndim) {
        const v = flat[i++]
        return isBool ? v !== 0 : v
      }
      const out: NestedArray[] = []
      for (let k = 0; k < this.shape[d]; k++) out.push(build(d + 1))
      return out
    }
    return build(0)
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1)
      throw new Error(`item: only one-element tensors can be converted to a number, got shape ${shapeStr(this.shape)}`)
    return this.data()[0]
  }

  toString(): string {
    return `Tensor(shape=${shapeStr(this.shape)}, dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`
  }

  // ---- autograd ----

  /** A tensor sharing this one's memory, cut from the graph. */
  detach(): Tensor {
    return this.asView(this.shape, this.strides)
  }

  requiresGrad_(flag = true): this {
    if (flag && this.gradFn) throw new Error('requiresGrad_: only leaf tensors can be set to require grad')
    if (flag && !isFloating(this.dtype))
      throw new Error(`requiresGrad_: only floating-point tensors can require gradients, got ${this.dtype}`)
    this.requiresGrad = flag
    return this
  }

  retainGrad(): this {
    if (this.gradFn) this.retainsGrad = true
    return this
  }

  // ---- in place (no autograd: for optimizers, gradient accumulation and init) ----

  fill_(value: number): this {
    this.checkAlive('fill_')
    this.backend.fill(this, value)
    return this
  }

  zero_(): this {
    return this.fill_(0)
  }
}

/**
 * The methods the layers above attach (src/ops/methods.ts declares and defines them). Until
 * they load, each throws an error naming itself, rather than "is not a function".
 */
// prettier-ignore
export const attachedMethods = [
  'backward', 'addInPlace', 'copy_',
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'remainder',
  'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr', 'logicalNot',
  'neg', 'abs', 'exp', 'log', 'log1p', 'sqrt', 'rsqrt', 'square', 'reciprocal', 'sin', 'cos', 'sign',
  'floor', 'ceil', 'round', 'tanh', 'sigmoid', 'relu', 'gelu', 'silu', 'hardsigmoid', 'hardswish',
  'leakyRelu', 'clamp',
  'sum', 'mean', 'var', 'std', 'max', 'min', 'argmax', 'argmin', 'logsumexp', 'prod',
  'matmul', 'softmax', 'logSoftmax', 'gather', 'scatterAdd', 'indexSelect',
  'reshape', 'view', 'permute', 'transpose', 't', 'T', 'expand', 'expandAs', 'squeeze', 'unsqueeze',
  'flatten', 'narrow', 'slice', 'select', 'split', 'chunk', 'contiguous', 'clone', 'where',
  'to', 'float', 'double', 'bfloat16', 'int', 'bool', 'cpu', 'cuda', 'zerosLike', 'onesLike',
] as const

export type AttachedMethod = (typeof attachedMethods)[number]

for (const name of attachedMethods) {
  const missing = (): never => {
    throw new Error(`Tensor.${name}: the op methods are not loaded; import 'intern-vision' (or its ops module) first`)
  }
  const placeholder = name === 'T' ? { get: missing } : { value: missing, writable: true }
  Object.defineProperty(Tensor.prototype, name, { ...placeholder, configurable: true })
}
