// The Backend methods that only turn Tensors into an addon's descriptors and call the kernel
// of the same name: identical for the CPU and the CUDA addon, which export the same entry
// points with the same argument lists.
import type { Backend, BinaryOp, ReduceOp, Storage, UnaryOp } from './backend'
import { dtypeCode } from './element-types'
import { profilerHooks } from './profiler-hooks'
import type { Tensor } from '../tensor/tensor'

type KernelFn = (...args: unknown[]) => unknown
type Addon = Record<string, unknown>

/** [storage handle, offset, shape, strides, dtype code]: what every native entry point reads. */
export function describe(t: Tensor): [unknown, number, number[], number[], number] {
  return [t.storage.handle, t.offset, t.shape, t.strides, dtypeCode[t.dtype]]
}

// Layouts are carved out of shared slabs. A small Float64Array of its own is moved off V8's
// heap, into a buffer of its own, the first time the addon reads it: an allocation and a copy
// for every view of a training step. A slab stays alive while a layout in it does: kept small,
// so one long-lived tensor pins 8 KB.
const slabDoubles = 1024
let slab = new Float64Array(slabDoubles)
let slabUsed = 0
function layoutArray(n: number): Float64Array {
  if (slabUsed + n > slabDoubles) {
    slab = new Float64Array(slabDoubles)
    slabUsed = 0
  }
  slabUsed += n
  return slab.subarray(slabUsed - n, slabUsed)
}

/** The CPU addon's flat form of a tensor: two arguments, its storage handle and the layout
 * Float64Array [offset, dtype code, ndim, shape..., strides...], which the addon reads in one go
 * (the layout is made once per view: views never change). */
export function describePacked(t: Tensor): [unknown, Float64Array] {
  return [t.storage.handle, packedLayout(t)]
}

function packedLayout(t: Tensor): Float64Array {
  let layout = t.packedLayout
  if (layout === undefined) {
    const n = t.shape.length
    layout = layoutArray(3 + 2 * n)
    layout[0] = t.offset
    layout[1] = dtypeCode[t.dtype]
    layout[2] = n
    for (let k = 0; k < n; k++) {
      layout[3 + k] = t.shape[k]
      layout[3 + n + k] = t.strides[k]
    }
    t.packedLayout = layout
  }
  return layout
}

// Tensors carry a brand, so the backend recognises them without loading the tensor layer.
export function isTensor(a: unknown): a is Tensor {
  return typeof a === 'object' && a !== null && (a as { isTensor?: unknown }).isTensor === true
}

export type KernelCalls = Pick<
  Backend,
  'copy' | 'fill' | 'unary' | 'binary' | 'where' | 'reduce' | 'matmul' | 'run' | 'has'
>

export function kernelCalls(
  addon: Addon,
  deviceName: string,
  allocate: (bytes: number) => Storage,
  /** CPU: each tensor goes flat, as its handle and packed layout; CUDA: as one descriptor. */
  flat = false,
): KernelCalls {
  const takesBfloat16 = new Set(Array.isArray(addon.bfloat16Kernels) ? (addon.bfloat16Kernels as string[]) : [])
  const copy = addon.copy as KernelFn
  // fn comes from the wrapper: `addon.binary` is a named load, `addon[name]` with the name
  // varying across ops a megamorphic one, every op.
  const call = (name: string, fn: unknown, args: unknown[]): unknown => {
    if (typeof fn !== 'function') throw new Error(`${name}: no such ${deviceName} kernel`)
    // The common path first, without closures: this runs once per op.
    let bfloat16 = false
    const described: unknown[] = []
    for (let i = 0; i < args.length; i++) {
      const a = args[i]
      if (!isTensor(a)) described.push(a)
      else {
        // A disposed tensor's memory may already belong to another (the allocator's cache).
        if (a.storage.disposed)
          throw new Error(`${name}: argument ${i}: the tensor of shape [${a.shape.join(', ')}] was disposed`)
        if (flat) described.push(a.storage.handle, packedLayout(a))
        else described.push(describe(a))
        if (a.dtype === 'bfloat16') bfloat16 = true
      }
    }
    const widen = bfloat16 && !takesBfloat16.has(name)
    if (profilerHooks.active)
      return profilerHooks.kernel(name, args, () => invoke(fn as KernelFn, widen, name, args, described))
    return invoke(fn as KernelFn, widen, name, args, described)
  }
  // A function, not a closure made per call: under tsx (esbuild's keepNames) every named
  // closure costs an Object.defineProperty of its name, on every call.
  const invoke = (fn: KernelFn, widen: boolean, name: string, args: unknown[], described: unknown[]): unknown =>
    widen ? callWidened(fn, args, copy, allocate, ONE_OUTPUT.has(name)) : fn(...described)
  // unary and binary are most of a step's calls, on tensors of a few elements as often as of
  // millions: on the CPU they skip the argument array and its spread when every tensor is live,
  // not bfloat16, and no profiler listens (otherwise call() handles them, with its errors).
  const unaryFn = flat && typeof addon.unary === 'function' ? (addon.unary as KernelFn) : null
  const binaryFn = flat && typeof addon.binary === 'function' ? (addon.binary as KernelFn) : null
  const direct = (t: Tensor): boolean => !t.storage.disposed && t.dtype !== 'bfloat16'
  return {
    copy: (out, src) => void call('copy', addon.copy, [out, src]),
    fill: (out, value) => void call('fill', addon.fill, [out, value]),
    unary: (op: UnaryOp, out, x, a = NaN, b = NaN) => {
      if (unaryFn && !profilerHooks.active && direct(out) && direct(x))
        unaryFn(op, out.storage.handle, packedLayout(out), x.storage.handle, packedLayout(x), a, b)
      else call('unary', addon.unary, [op, out, x, a, b])
    },
    binary: (op: BinaryOp, out, a, b, alpha = 1) => {
      if (binaryFn && !profilerHooks.active && direct(out) && direct(a) && direct(b))
        binaryFn(
          op,
          out.storage.handle,
          packedLayout(out),
          a.storage.handle,
          packedLayout(a),
          b.storage.handle,
          packedLayout(b),
          alpha,
        )
      else call('binary', addon.binary, [op, out, a, b, alpha])
    },
    where: (out, cond, a, b) => void call('where', addon.where, [out, cond, a, b]),
    reduce: (op: ReduceOp, out, x, reduced, correction = 0) =>
      void call('reduce', addon.reduce, [op, out, x, reduced, correction]),
    matmul: (out, a, b, bias) => void call('matmul', addon.matmul, [out, a, b, bias]),
    run: (name, ...args) => call(name, addon[name], args),
    has: (name) => typeof addon[name] === 'function',
  }
}

// The core kernels whose first tensor argument is their one output, written whole.
const ONE_OUTPUT = new Set(['copy', 'fill', 'unary', 'binary', 'where', 'reduce', 'matmul'])

const FLOAT32 = dtypeCode.float32
const BFLOAT16 = dtypeCode.bfloat16

/** The lowest and highest element a view touches (null when it has none). */
function span(t: Tensor): [number, number] | null {
  let lo = t.offset
  let hi = t.offset
  for (let d = 0; d < t.shape.length; d++) {
    if (t.shape[d] === 0) return null
    const reach = (t.shape[d] - 1) * t.strides[d]
    if (reach < 0) lo += reach
    else hi += reach
  }
  return [lo, hi]
}

/**
 * Runs a kernel that has no bfloat16 code on float32 mirrors of the bfloat16 storages it is
 * given, as PyTorch's CPU kernels compute bfloat16 in float32: each storage's touched span is
 * widened once (views of one storage share its mirror, so in-place kernels keep their
 * aliasing), the kernel runs, and every mirror is rounded back once. Inputs come back
 * unchanged, since widening is exact; outputs are rounded once, to nearest even. When the
 * first tensor is known to be the only output (`oneOutput`), only its mirror is rounded back,
 * and a dense output that no input shares is not widened first.
 */
function callWidened(
  fn: KernelFn,
  args: unknown[],
  copy: KernelFn,
  allocate: (bytes: number) => Storage,
  oneOutput: boolean,
): unknown {
  const mirrors = new Map<Storage, { lo: number; hi: number; storage?: Storage; views: number }>()
  const empties: Storage[] = []
  for (const a of args) {
    if (!isTensor(a) || a.dtype !== 'bfloat16') continue
    const s = span(a)
    if (!s) continue
    const m = mirrors.get(a.storage)
    if (m) [m.lo, m.hi, m.views] = [Math.min(m.lo, s[0]), Math.max(m.hi, s[1]), m.views + 1]
    else mirrors.set(a.storage, { lo: s[0], hi: s[1], views: 1 })
  }
  const out = oneOutput ? (args.find(isTensor) as Tensor | undefined) : undefined
  const written = out?.dtype === 'bfloat16' ? mirrors.get(out.storage) : undefined
  // Nothing to widen: every element of the mirror is written before it is read.
  const blank = written !== undefined && written.views === 1 && written.hi - written.lo + 1 === out!.numel
  try {
    for (const [source, m] of mirrors) {
      const n = m.hi - m.lo + 1
      m.storage = allocate(n * 4)
      if (!(blank && m === written))
        copy([m.storage.handle, 0, [n], [1], FLOAT32], [source.handle, m.lo, [n], [1], BFLOAT16])
    }
    const described = args.map((a) => {
      if (!isTensor(a)) return a
      if (a.dtype !== 'bfloat16') return describe(a)
      const m = mirrors.get(a.storage)
      if (m && span(a)) return [m.storage!.handle, a.offset - m.lo, a.shape, a.strides, FLOAT32]
      empties.push(allocate(0))
      return [empties[empties.length - 1].handle, 0, a.shape, a.strides, FLOAT32]
    })
    const result = fn(...described)
    for (const [source, m] of mirrors) {
      if (oneOutput && m !== written) continue
      const n = m.hi - m.lo + 1
      copy([source.handle, m.lo, [n], [1], BFLOAT16], [m.storage!.handle, 0, [n], [1], FLOAT32])
    }
    return result
  } finally {
    for (const m of mirrors.values()) m.storage?.release()
    for (const e of empties) e.release()
  }
}
