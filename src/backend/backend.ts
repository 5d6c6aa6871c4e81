// The one interface CPU and CUDA share. Ops above it deal in Tensors; a backend turns them
// into its own descriptors. Outputs are allocated by the op layer and passed in, so a
// kernel never allocates behind the op's back.
import type { Device, TypedArray } from '../tensor/dtype'
import type { Tensor } from '../tensor/tensor'

export interface Storage {
  readonly device: Device
  readonly byteLength: number
  /** What the kernels receive: an ArrayBuffer on the CPU, a device handle on CUDA. */
  readonly handle: unknown
  readonly disposed: boolean
  retain(): void
  /** Drops one reference; frees the memory at once when none is left. */
  release(): void
}

export type UnaryOp =
  | 'neg'
  | 'abs'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'tanh'
  | 'sigmoid'
  | 'relu'
  | 'gelu'
  | 'geluTanh'
  | 'silu'
  | 'hardsigmoid'
  | 'hardswish'
  | 'clamp'
  | 'sign'
  | 'square'
  | 'reciprocal'
  | 'powScalar'
  | 'leakyRelu'
  | 'sin'
  | 'cos'
  | 'floor'
  | 'ceil'
  | 'round'
  | 'log1p'
  | 'expm1'
  | 'logicalNot'

export type BinaryOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'eq'
  | 'ne'
  | 'lt'
  | 'le'
  | 'gt'
  | 'ge'
  | 'logicalAnd'
  | 'logicalOr'
  | 'reluGrad'
  | 'geluGrad'
  | 'geluTanhGrad'
  | 'siluGrad'
  | 'sigmoidGrad'
  | 'tanhGrad'
  | 'hardsigmoidGrad'
  | 'hardswishGrad'
  | 'leakyReluGrad'
  | 'atan2'
  | 'remainder'

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min' | 'argmax' | 'argmin' | 'logsumexp' | 'var' | 'prod'

export interface Backend {
  readonly device: Device
  allocate(bytes: number): Storage
  /** Copies a contiguous tensor out to a new host array. */
  toHost(t: Tensor): TypedArray
  /** Writes host data into a contiguous tensor of the same dtype and size. */
  fromHost(t: Tensor, data: TypedArray): void
  /** out = src, any strides on both sides, casting between dtypes. */
  copy(out: Tensor, src: Tensor): void
  fill(out: Tensor, value: number): void
  /** a and b are the op's scalar parameters (clamp bounds, exponent, slope); NaN when unused. */
  unary(op: UnaryOp, out: Tensor, x: Tensor, a?: number, b?: number): void
  /** Inputs already broadcast to out's shape. `alpha` scales b for add/sub (torch.add's alpha). */
  binary(op: BinaryOp, out: Tensor, a: Tensor, b: Tensor, alpha?: number): void
  where(out: Tensor, cond: Tensor, a: Tensor, b: Tensor): void
  /** Reduces the trailing `reduced` dims of x into the contiguous out. */
  reduce(op: ReduceOp, out: Tensor, x: Tensor, reduced: number, correction?: number): void
  /** out[b] = a[b] @ b[b] (+ bias), all 3-d; a unit stride in either of a's/b's last two dims. */
  matmul(out: Tensor, a: Tensor, b: Tensor, bias: Tensor | null): void
  /** Runs a named kernel beyond the core (conv2d, maxPool2d...): Tensor arguments become
   * this backend's descriptors, null stays null, everything else passes through. */
  run(name: string, ...args: unknown[]): unknown
  /** Whether this backend has the named kernel. */
  has(name: string): boolean
}
