// The Backend methods that only turn Tensors into an addon's descriptors and call the kernel
// of the same name: identical for the CPU and the CUDA addon, which export the same entry
// points with the same argument lists.
import type { Backend, BinaryOp, ReduceOp, UnaryOp } from './backend'
import { dtypeCode } from './element-types'
import { profilerHooks } from './profiler-hooks'
import type { Tensor } from '../tensor/tensor'

type KernelFn = (...args: unknown[]) => unknown
type Addon = Record<string, unknown>

/** [storage handle, offset, shape, strides, dtype code]: what every native entry point reads. */
export function describe(t: Tensor): [unknown, number, number[], number[], number] {
  return [t.storage.handle, t.offset, t.shape, t.strides, dtypeCode[t.dtype]]
}

// Tensors carry a brand, so the backend recognises them without loading the tensor layer.
function isTensor(a: unknown): a is Tensor {
  return typeof a === 'object' && a !== null && (a as { isTensor?: unknown }).isTensor === true
}

export type KernelCalls = Pick<
  Backend,
  'copy' | 'fill' | 'unary' | 'binary' | 'where' | 'reduce' | 'matmul' | 'run' | 'has'
>

export function kernelCalls(addon: Addon, deviceName: string): KernelCalls {
  const call = (name: string, ...args: unknown[]): unknown => {
    const fn = addon[name]
    if (typeof fn !== 'function') throw new Error(`${name}: no such ${deviceName} kernel`)
    const described = args.map((a) => (isTensor(a) ? describe(a) : a))
    if (profilerHooks.active) return profilerHooks.kernel(name, args, () => (fn as KernelFn)(...described))
    return (fn as KernelFn)(...described)
  }
  return {
    copy: (out, src) => void call('copy', out, src),
    fill: (out, value) => void call('fill', out, value),
    unary: (op: UnaryOp, out, x, a = NaN, b = NaN) => void call('unary', op, out, x, a, b),
    binary: (op: BinaryOp, out, a, b, alpha = 1) => void call('binary', op, out, a, b, alpha),
    where: (out, cond, a, b) => void call('where', out, cond, a, b),
    reduce: (op: ReduceOp, out, x, reduced, correction = 0) => void call('reduce', op, out, x, reduced, correction),
    matmul: (out, a, b, bias) => void call('matmul', out, a, b, bias),
    run: call,
    has: (name) => typeof addon[name] === 'function',
  }
}
