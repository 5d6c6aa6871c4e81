// The Tensor: a typed, strided view of a storage on one device, with its autograd state.
// The methods are thin: each forwards to the op function of the same name in src/ops, so
// `a.add(b)` and `add(a, b)` are the same code.
import type { Storage } from '../backend/backend'
import { backendFor, type Backend } from '../backend'
import { backward as runBackward, type BackwardOptions } from '../autograd/engine'
import type { GradNode } from '../autograd/node'
import type * as OpsModule from '../ops'
import { dtypeBytes, type Device, type DType, type TypedArray } from './dtype'
import { track } from './memory'
import { contiguousStrides, numelOf, shapeStr } from './shape'

// The ops import this module, so it reaches them lazily: an eager import would run ops'
// re-exports while an op file is still loading and leave methods undefined.
let opsModule: typeof OpsModule | undefined
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ops = (): typeof OpsModule => (opsModule ??= require('../ops') as typeof OpsModule)

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
    if (this.disposedFlag || this.storage.disposed) throw new Error(`${op}: the tensor of shape ${shapeStr(this.shape)} was disposed`)
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

  /** A copy of the elements in row-major order, as a typed array (bool reads as Uint8Array). */
  data(): TypedArray {
    this.checkAlive('data')
    const c = this.isContiguous() ? this : ops().contiguous(this)
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
    if (this.numel !== 1) throw new Error(`item: only one-element tensors can be converted to a number, got shape ${shapeStr(this.shape)}`)
    return this.data()[0]
  }

  toString(): string {
    return `Tensor(shape=${shapeStr(this.shape)}, dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`
  }

  // ---- autograd ----

  /** backward(), backward(gradient, {retainGraph}) or PyTorch's keyword form backward({gradient, retainGraph}). */
  backward(gradient?: Tensor | BackwardOptions, opts?: BackwardOptions): void {
    runBackward(this, gradient, opts)
  }

  /** A tensor sharing this one's memory, cut from the graph. */
  detach(): Tensor {
    return this.asView(this.shape, this.strides)
  }

  requiresGrad_(flag = true): this {
    if (flag && this.gradFn) throw new Error('requiresGrad_: only leaf tensors can be set to require grad')
    if (flag && this.dtype !== 'float32' && this.dtype !== 'float64')
      throw new Error(`requiresGrad_: only floating-point tensors can require gradients, got ${this.dtype}`)
    this.requiresGrad = flag
    return this
  }

  retainGrad(): this {
    if (this.gradFn) this.retainsGrad = true
    return this
  }

  // ---- in place (no autograd: for optimizers, gradient accumulation and init) ----

  /** this += other (broadcast into this), outside autograd. */
  addInPlace(other: Tensor, alpha = 1): this {
    const cast = other.to(this.dtype)
    const view = ops().expandTo(cast, this.shape)
    this.backend.binary('add', this, this, view, alpha)
    if (view !== cast) view.dispose()
    if (cast !== other) cast.dispose()
    return this
  }

  copy_(src: Tensor): this {
    ops().copyInto(this, src)
    return this
  }

  fill_(value: number): this {
    this.checkAlive('fill_')
    this.backend.fill(this, value)
    return this
  }

  zero_(): this {
    return this.fill_(0)
  }

  // ---- ops as methods ----

  add(o: TensorLike, alpha?: number) { return ops().add(this, o, alpha) }
  sub(o: TensorLike, alpha?: number) { return ops().sub(this, o, alpha) }
  mul(o: TensorLike) { return ops().mul(this, o) }
  div(o: TensorLike) { return ops().div(this, o) }
  pow(o: TensorLike) { return ops().pow(this, o) }
  maximum(o: TensorLike) { return ops().maximum(this, o) }
  minimum(o: TensorLike) { return ops().minimum(this, o) }
  remainder(o: TensorLike) { return ops().remainder(this, o) }
  eq(o: TensorLike) { return ops().eq(this, o) }
  ne(o: TensorLike) { return ops().ne(this, o) }
  lt(o: TensorLike) { return ops().lt(this, o) }
  le(o: TensorLike) { return ops().le(this, o) }
  gt(o: TensorLike) { return ops().gt(this, o) }
  ge(o: TensorLike) { return ops().ge(this, o) }
  logicalAnd(o: TensorLike) { return ops().logicalAnd(this, o) }
  logicalOr(o: TensorLike) { return ops().logicalOr(this, o) }
  logicalNot() { return ops().logicalNot(this) }
  neg() { return ops().neg(this) }
  abs() { return ops().abs(this) }
  exp() { return ops().exp(this) }
  log() { return ops().log(this) }
  log1p() { return ops().log1p(this) }
  sqrt() { return ops().sqrt(this) }
  rsqrt() { return ops().rsqrt(this) }
  square() { return ops().square(this) }
  reciprocal() { return ops().reciprocal(this) }
  sin() { return ops().sin(this) }
  cos() { return ops().cos(this) }
  sign() { return ops().sign(this) }
  floor() { return ops().floor(this) }
  ceil() { return ops().ceil(this) }
  round() { return ops().round(this) }
  tanh() { return ops().tanh(this) }
  sigmoid() { return ops().sigmoid(this) }
  relu() { return ops().relu(this) }
  gelu(approximate?: 'none' | 'tanh') { return ops().gelu(this, approximate) }
  silu() { return ops().silu(this) }
  hardsigmoid() { return ops().hardsigmoid(this) }
  hardswish() { return ops().hardswish(this) }
  leakyRelu(slope?: number) { return ops().leakyRelu(this, slope) }
  clamp(min?: number | null, max?: number | null) { return ops().clamp(this, min, max) }

  sum(dim?: number | number[], keepDim?: boolean) { return ops().sum(this, dim, keepDim) }
  mean(dim?: number | number[], keepDim?: boolean) { return ops().mean(this, dim, keepDim) }
  var(dim?: number | number[], opts?: { correction?: number; keepDim?: boolean }) { return ops().variance(this, dim, opts) }
  std(dim?: number | number[], opts?: { correction?: number; keepDim?: boolean }) { return ops().std(this, dim, opts) }
  max(dim?: number | number[], keepDim?: boolean) { return ops().max(this, dim, keepDim) }
  min(dim?: number | number[], keepDim?: boolean) { return ops().min(this, dim, keepDim) }
  argmax(dim?: number, keepDim?: boolean) { return ops().argmax(this, dim, keepDim) }
  argmin(dim?: number, keepDim?: boolean) { return ops().argmin(this, dim, keepDim) }
  logsumexp(dim: number | number[], keepDim?: boolean) { return ops().logsumexp(this, dim, keepDim) }
  prod(dim?: number | number[], keepDim?: boolean) { return ops().prod(this, dim, keepDim) }

  matmul(o: Tensor) { return ops().matmul(this, o) }
  softmax(dim: number) { return ops().softmax(this, dim) }
  logSoftmax(dim: number) { return ops().logSoftmax(this, dim) }
  gather(dim: number, index: Tensor) { return ops().gather(this, dim, index) }
  scatterAdd(dim: number, index: Tensor, src: Tensor) { return ops().scatterAdd(this, dim, index, src) }
  indexSelect(dim: number, index: Tensor) { return ops().indexSelect(this, dim, index) }

  reshape(...shape: (number | number[])[]) { return ops().reshape(this, flatArgs(shape)) }
  view(...shape: (number | number[])[]) { return ops().view(this, flatArgs(shape)) }
  permute(...dims: (number | number[])[]) { return ops().permute(this, flatArgs(dims)) }
  transpose(d0: number, d1: number) { return ops().transpose(this, d0, d1) }
  t() { return ops().transpose(this, 0, 1) }
  get T(): Tensor { return ops().permute(this, [...Array(this.ndim).keys()].reverse()) }
  expand(...shape: (number | number[])[]) { return ops().expand(this, flatArgs(shape)) }
  expandAs(o: Tensor) { return ops().expand(this, o.shape) }
  squeeze(dim?: number | number[]) { return ops().squeeze(this, dim) }
  unsqueeze(dim: number) { return ops().unsqueeze(this, dim) }
  flatten(startDim?: number, endDim?: number) { return ops().flatten(this, startDim, endDim) }
  narrow(dim: number, start: number, length: number) { return ops().narrow(this, dim, start, length) }
  slice(dim: number, start?: number, end?: number, step?: number) { return ops().slice(this, dim, start, end, step) }
  select(dim: number, index: number) { return ops().select(this, dim, index) }
  split(sizeOrSections: number | number[], dim?: number) { return ops().split(this, sizeOrSections, dim) }
  chunk(chunks: number, dim?: number) { return ops().chunk(this, chunks, dim) }
  contiguous() { return ops().contiguous(this) }
  clone() { return ops().clone(this) }
  where(cond: Tensor, other: TensorLike) { return ops().where(cond, this, other) }

  to(target: DType | Device): Tensor { return ops().to(this, target) }
  float() { return ops().to(this, 'float32') }
  double() { return ops().to(this, 'float64') }
  int() { return ops().to(this, 'int32') }
  bool() { return ops().to(this, 'bool') }
  cpu() { return ops().to(this, 'cpu') }
  cuda() { return ops().to(this, 'cuda') }

  zerosLike() { return ops().zerosLike(this) }
  onesLike() { return ops().onesLike(this) }
}

function flatArgs(args: (number | number[])[]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? [...args[0]] : (args as number[])
}
