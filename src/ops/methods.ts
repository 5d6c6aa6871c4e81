// The Tensor methods of the layers above the tensor: each forwards to the function of the same
// name, so `a.add(b)` and `add(a, b)` are the same code. The tensor layer cannot import them
// (they import it), so this module attaches them to Tensor.prototype when the ops load; the
// declarations below give Tensor their types.
import { backward, type BackwardOptions } from '../autograd/engine'
import type { Device, DType } from '../tensor/dtype'
import { onesLike, zerosLike } from '../tensor/creation'
import { Tensor, type AttachedMethod, type TensorLike } from '../tensor/tensor'
import * as elementwise from './elementwise'
import { gather, indexSelect, scatterAdd } from './indexing'
import { chunk, split } from './join'
import { matmul } from './matmul'
import * as reduce from './reduce'
import { logSoftmax, softmax } from './softmax'
import { expandTo } from './util'
import * as views from './views'

declare module '../tensor/tensor' {
  interface Tensor {
    /** backward(), backward(gradient, {retainGraph}) or PyTorch's keyword form backward({gradient, retainGraph}). */
    backward(gradient?: Tensor | BackwardOptions, opts?: BackwardOptions): void
    /** this += other (broadcast into this), outside autograd. */
    addInPlace(other: Tensor, alpha?: number): this
    copy_(src: Tensor): this

    add(o: TensorLike, alpha?: number): Tensor
    sub(o: TensorLike, alpha?: number): Tensor
    mul(o: TensorLike): Tensor
    div(o: TensorLike): Tensor
    pow(o: TensorLike): Tensor
    maximum(o: TensorLike): Tensor
    minimum(o: TensorLike): Tensor
    remainder(o: TensorLike): Tensor
    eq(o: TensorLike): Tensor
    ne(o: TensorLike): Tensor
    lt(o: TensorLike): Tensor
    le(o: TensorLike): Tensor
    gt(o: TensorLike): Tensor
    ge(o: TensorLike): Tensor
    logicalAnd(o: TensorLike): Tensor
    logicalOr(o: TensorLike): Tensor
    logicalNot(): Tensor
    neg(): Tensor
    abs(): Tensor
    exp(): Tensor
    log(): Tensor
    log1p(): Tensor
    sqrt(): Tensor
    rsqrt(): Tensor
    square(): Tensor
    reciprocal(): Tensor
    sin(): Tensor
    cos(): Tensor
    sign(): Tensor
    floor(): Tensor
    ceil(): Tensor
    round(): Tensor
    tanh(): Tensor
    sigmoid(): Tensor
    relu(): Tensor
    gelu(approximate?: 'none' | 'tanh'): Tensor
    silu(): Tensor
    hardsigmoid(): Tensor
    hardswish(): Tensor
    leakyRelu(slope?: number): Tensor
    clamp(min?: number | null, max?: number | null): Tensor

    sum(dim?: number | number[], keepDim?: boolean): Tensor
    mean(dim?: number | number[], keepDim?: boolean): Tensor
    var(dim?: number | number[], opts?: { correction?: number; keepDim?: boolean }): Tensor
    std(dim?: number | number[], opts?: { correction?: number; keepDim?: boolean }): Tensor
    max(dim?: number | number[], keepDim?: boolean): Tensor
    min(dim?: number | number[], keepDim?: boolean): Tensor
    argmax(dim?: number, keepDim?: boolean): Tensor
    argmin(dim?: number, keepDim?: boolean): Tensor
    logsumexp(dim: number | number[], keepDim?: boolean): Tensor
    prod(dim?: number | number[], keepDim?: boolean): Tensor

    matmul(o: Tensor): Tensor
    softmax(dim: number): Tensor
    logSoftmax(dim: number): Tensor
    gather(dim: number, index: Tensor): Tensor
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor
    indexSelect(dim: number, index: Tensor): Tensor

    reshape(...shape: (number | number[])[]): Tensor
    view(...shape: (number | number[])[]): Tensor
    permute(...dims: (number | number[])[]): Tensor
    transpose(d0: number, d1: number): Tensor
    t(): Tensor
    readonly T: Tensor
    expand(...shape: (number | number[])[]): Tensor
    expandAs(o: Tensor): Tensor
    squeeze(dim?: number | number[]): Tensor
    unsqueeze(dim: number): Tensor
    flatten(startDim?: number, endDim?: number): Tensor
    narrow(dim: number, start: number, length: number): Tensor
    slice(dim: number, start?: number, end?: number, step?: number): Tensor
    select(dim: number, index: number): Tensor
    split(sizeOrSections: number | number[], dim?: number): Tensor[]
    chunk(chunks: number, dim?: number): Tensor[]
    contiguous(): Tensor
    clone(): Tensor
    where(cond: Tensor, other: TensorLike): Tensor

    to(target: DType | Device): Tensor
    float(): Tensor
    double(): Tensor
    bfloat16(): Tensor
    int(): Tensor
    bool(): Tensor
    cpu(): Tensor
    cuda(): Tensor

    zerosLike(): Tensor
    onesLike(): Tensor
  }
}

function flatArgs(args: (number | number[])[]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? [...args[0]] : (args as number[])
}

// Typed by the declarations above: a method missing here, or one too many, fails to compile.
const methods: { [K in Exclude<AttachedMethod, 'T'>]: Tensor[K] } & ThisType<Tensor> = {
  backward(gradient, opts) {
    backward(this, gradient, opts)
  },
  addInPlace(other, alpha = 1) {
    const cast = other.to(this.dtype)
    const view = expandTo(cast, this.shape)
    this.backend.binary('add', this, this, view, alpha)
    if (view !== cast) view.dispose()
    if (cast !== other) cast.dispose()
    return this
  },
  copy_(src) {
    views.copyInto(this, src)
    return this
  },

  add(o, alpha) {
    return elementwise.add(this, o, alpha)
  },
  sub(o, alpha) {
    return elementwise.sub(this, o, alpha)
  },
  mul(o) {
    return elementwise.mul(this, o)
  },
  div(o) {
    return elementwise.div(this, o)
  },
  pow(o) {
    return elementwise.pow(this, o)
  },
  maximum(o) {
    return elementwise.maximum(this, o)
  },
  minimum(o) {
    return elementwise.minimum(this, o)
  },
  remainder(o) {
    return elementwise.remainder(this, o)
  },
  eq(o) {
    return elementwise.eq(this, o)
  },
  ne(o) {
    return elementwise.ne(this, o)
  },
  lt(o) {
    return elementwise.lt(this, o)
  },
  le(o) {
    return elementwise.le(this, o)
  },
  gt(o) {
    return elementwise.gt(this, o)
  },
  ge(o) {
    return elementwise.ge(this, o)
  },
  logicalAnd(o) {
    return elementwise.logicalAnd(this, o)
  },
  logicalOr(o) {
    return elementwise.logicalOr(this, o)
  },
  logicalNot() {
    return elementwise.logicalNot(this)
  },
  neg() {
    return elementwise.neg(this)
  },
  abs() {
    return elementwise.abs(this)
  },
  exp() {
    return elementwise.exp(this)
  },
  log() {
    return elementwise.log(this)
  },
  log1p() {
    return elementwise.log1p(this)
  },
  sqrt() {
    return elementwise.sqrt(this)
  },
  rsqrt() {
    return elementwise.rsqrt(this)
  },
  square() {
    return elementwise.square(this)
  },
  reciprocal() {
    return elementwise.reciprocal(this)
  },
  sin() {
    return elementwise.sin(this)
  },
  cos() {
    return elementwise.cos(this)
  },
  sign() {
    return elementwise.sign(this)
  },
  floor() {
    return elementwise.floor(this)
  },
  ceil() {
    return elementwise.ceil(this)
  },
  round() {
    return elementwise.round(this)
  },
  tanh() {
    return elementwise.tanh(this)
  },
  sigmoid() {
    return elementwise.sigmoid(this)
  },
  relu() {
    return elementwise.relu(this)
  },
  gelu(approximate) {
    return elementwise.gelu(this, approximate)
  },
  silu() {
    return elementwise.silu(this)
  },
  hardsigmoid() {
    return elementwise.hardsigmoid(this)
  },
  hardswish() {
    return elementwise.hardswish(this)
  },
  leakyRelu(slope) {
    return elementwise.leakyRelu(this, slope)
  },
  clamp(min, max) {
    return elementwise.clamp(this, min, max)
  },

  sum(dim, keepDim) {
    return reduce.sum(this, dim, keepDim)
  },
  mean(dim, keepDim) {
    return reduce.mean(this, dim, keepDim)
  },
  var(dim, opts) {
    return reduce.variance(this, dim, opts)
  },
  std(dim, opts) {
    return reduce.std(this, dim, opts)
  },
  max(dim, keepDim) {
    return reduce.max(this, dim, keepDim)
  },
  min(dim, keepDim) {
    return reduce.min(this, dim, keepDim)
  },
  argmax(dim, keepDim) {
    return reduce.argmax(this, dim, keepDim)
  },
  argmin(dim, keepDim) {
    return reduce.argmin(this, dim, keepDim)
  },
  logsumexp(dim, keepDim) {
    return reduce.logsumexp(this, dim, keepDim)
  },
  prod(dim, keepDim) {
    return reduce.prod(this, dim, keepDim)
  },

  matmul(o) {
    return matmul(this, o)
  },
  softmax(dim) {
    return softmax(this, dim)
  },
  logSoftmax(dim) {
    return logSoftmax(this, dim)
  },
  gather(dim, index) {
    return gather(this, dim, index)
  },
  scatterAdd(dim, index, src) {
    return scatterAdd(this, dim, index, src)
  },
  indexSelect(dim, index) {
    return indexSelect(this, dim, index)
  },

  reshape(...shape) {
    return views.reshape(this, flatArgs(shape))
  },
  view(...shape) {
    return views.view(this, flatArgs(shape))
  },
  permute(...dims) {
    return views.permute(this, flatArgs(dims))
  },
  transpose(d0, d1) {
    return views.transpose(this, d0, d1)
  },
  t() {
    return views.transpose(this, 0, 1)
  },
  expand(...shape) {
    return views.expand(this, flatArgs(shape))
  },
  expandAs(o) {
    return views.expand(this, o.shape)
  },
  squeeze(dim) {
    return views.squeeze(this, dim)
  },
  unsqueeze(dim) {
    return views.unsqueeze(this, dim)
  },
  flatten(startDim, endDim) {
    return views.flatten(this, startDim, endDim)
  },
  narrow(dim, start, length) {
    return views.narrow(this, dim, start, length)
  },
  slice(dim, start, end, step) {
    return views.slice(this, dim, start, end, step)
  },
  select(dim, index) {
    return views.select(this, dim, index)
  },
  split(sizeOrSections, dim) {
    return split(this, sizeOrSections, dim)
  },
  chunk(chunks, dim) {
    return chunk(this, chunks, dim)
  },
  contiguous() {
    return views.contiguous(this)
  },
  clone() {
    return views.clone(this)
  },
  where(cond, other) {
    return elementwise.where(cond, this, other)
  },

  to(target) {
    return views.to(this, target)
  },
  float() {
    return views.to(this, 'float32')
  },
  double() {
    return views.to(this, 'float64')
  },
  bfloat16() {
    return views.to(this, 'bfloat16')
  },
  int() {
    return views.to(this, 'int32')
  },
  bool() {
    return views.to(this, 'bool')
  },
  cpu() {
    return views.to(this, 'cpu')
  },
  cuda() {
    return views.to(this, 'cuda')
  },

  zerosLike() {
    return zerosLike(this)
  },
  onesLike() {
    return onesLike(this)
  },
}

for (const [name, value] of Object.entries(methods))
  Object.defineProperty(Tensor.prototype, name, { value, writable: true, configurable: true })
Object.defineProperty(Tensor.prototype, 'T', {
  get(this: Tensor): Tensor {
    return views.permute(this, [...Array(this.ndim).keys()].reverse())
  },
  configurable: true,
})
