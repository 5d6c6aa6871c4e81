import type { Backend, BinaryOp, ReduceOp, Storage, UnaryOp } from './backend'
import { native, type Descriptor } from './native'
import { dtypeCode, typedArrayFor, type TypedArray } from '../tensor/dtype'
import { Tensor } from '../tensor/tensor'

class CpuStorage implements Storage {
  readonly device = 'cpu' as const
  private refs = 1
  constructor(readonly handle: ArrayBuffer) {}
  get byteLength(): number {
    return this.handle.byteLength
  }
  get disposed(): boolean {
    return this.refs <= 0
  }
  retain(): void {
    this.refs++
  }
  release(): void {
    if (this.refs > 0 && --this.refs === 0) native.free(this.handle)
  }
}

function describe(t: Tensor): Descriptor {
  return [t.storage.handle as ArrayBuffer, t.offset, t.shape, t.strides, dtypeCode[t.dtype]]
}

const toArg = (a: unknown): unknown => (a instanceof Tensor ? describe(a) : a)

export const cpuBackend: Backend = {
  device: 'cpu',
  allocate(bytes: number): Storage {
    return new CpuStorage(native.alloc(bytes))
  },
  toHost(t: Tensor): TypedArray {
    if (t.storage.disposed) throw new Error('data: the tensor was disposed')
    const view = typedArrayFor(t.dtype, t.storage.handle as ArrayBuffer, t.offset * t.itemSize, t.numel)
    return view.slice()
  },
  fromHost(t: Tensor, data: TypedArray): void {
    typedArrayFor(t.dtype, t.storage.handle as ArrayBuffer, t.offset * t.itemSize, t.numel).set(data)
  },
  copy(out, src) {
    native.copy(describe(out), describe(src))
  },
  fill(out, value) {
    native.fill(describe(out), value)
  },
  unary(op: UnaryOp, out, x, a = NaN, b = NaN) {
    native.unary(op, describe(out), describe(x), a, b)
  },
  binary(op: BinaryOp, out, a, b, alpha = 1) {
    native.binary(op, describe(out), describe(a), describe(b), alpha)
  },
  where(out, cond, a, b) {
    native.where(describe(out), describe(cond), describe(a), describe(b))
  },
  reduce(op: ReduceOp, out, x, reduced, correction = 0) {
    native.reduce(op, describe(out), describe(x), reduced, correction)
  },
  matmul(out, a, b, bias) {
    native.matmul(describe(out), describe(a), describe(b), bias ? describe(bias) : null)
  },
  run(name: string, ...args: unknown[]): unknown {
    const fn = native[name]
    if (typeof fn !== 'function') throw new Error(`${name}: no such CPU kernel`)
    return (fn as (...a: unknown[]) => unknown)(...args.map(toArg))
  },
  has(name: string): boolean {
    return typeof native[name] === 'function'
  },
}
