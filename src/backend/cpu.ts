import type { Backend, BinaryOp, ReduceOp, Storage, UnaryOp } from './backend'
import { native, type Descriptor } from './native'
import { dtypeCode, typedArrayFor, type TypedArray } from '../tensor/dtype'
import { Tensor } from '../tensor/tensor'

// Live storage, for memoryStats(): disposal counts at once, garbage collection when the
// finalization registry gets round to it.
const live = { bytes: 0, blocks: 0 }
const collected = new FinalizationRegistry<number>((bytes) => {
  live.bytes -= bytes
  live.blocks--
})

// Disposed buffers wait here, binned by exact size, for the next allocation of that size: a
// training step allocates the same sizes every time, and a fresh buffer costs page faults and
// zeroing (V8 zero-fills new ArrayBuffers). Like PyTorch's caching allocator, the cache holds
// memory the process no longer uses; emptyCache() gives it back. Reused memory is not
// zeroed, as empty() promises nothing; INTERN_VISION_POISON=1 fills it with NaN bytes
// (0xff) so that a kernel reading an output it never wrote shows up in tests. A disposed
// buffer's memory moves to a new ArrayBuffer (structuredClone's transfer, no copy), which
// detaches the old one: a stale descriptor still reads as disposed, never as reused memory.
const cache = new Map<number, ArrayBuffer[]>()
let cachedBytes = 0
const cacheLimit = Number(process.env.INTERN_VISION_CACHE_BYTES ?? 512 * 2 ** 20)
const poison = process.env.INTERN_VISION_POISON === '1'

function takeCached(bytes: number): ArrayBuffer | undefined {
  const bin = cache.get(bytes)
  const buffer = bin?.pop()
  if (!buffer) return undefined
  cachedBytes -= bytes
  if (poison) new Uint8Array(buffer).fill(0xff)
  return buffer
}

function putCached(buffer: ArrayBuffer, bytes: number): void {
  if (bytes > cacheLimit / 4 || cachedBytes + bytes > cacheLimit) {
    native.free(buffer)
    return
  }
  const moved = structuredClone(buffer, { transfer: [buffer] })
  const bin = cache.get(bytes)
  if (bin) bin.push(moved)
  else cache.set(bytes, [moved])
  cachedBytes += bytes
}

/** Frees the buffers cached for reuse (torch.cuda.empty_cache's CPU twin). */
export function emptyCpuCache(): void {
  for (const bin of cache.values()) for (const b of bin) native.free(b)
  cache.clear()
  cachedBytes = 0
}

export function cpuMemoryStats(): { bytes: number; blocks: number; cachedBytes: number } {
  return { ...live, cachedBytes }
}

class CpuStorage implements Storage {
  readonly device = 'cpu' as const
  /** Byte offset of the 64-byte aligned data inside the buffer (the kernels align alike). */
  readonly byteOffset: number
  private refs = 1
  constructor(
    readonly handle: ArrayBuffer,
    readonly byteLength: number,
  ) {
    this.byteOffset = native.alignedOffset(handle)
    live.bytes += byteLength
    live.blocks++
    collected.register(this, byteLength, this)
  }
  get disposed(): boolean {
    return this.refs <= 0
  }
  retain(): void {
    this.refs++
  }
  release(): void {
    if (this.refs > 0 && --this.refs === 0) {
      collected.unregister(this)
      live.bytes -= this.byteLength
      live.blocks--
      putCached(this.handle, this.byteLength)
    }
  }
}

/** A live typed-array view of a CPU tensor's elements (contiguous tensors only). */
export function hostView(t: Tensor): TypedArray {
  const s = t.storage as CpuStorage
  return typedArrayFor(t.dtype, s.handle, s.byteOffset + t.offset * t.itemSize, t.numel)
}

function describe(t: Tensor): Descriptor {
  return [t.storage.handle as ArrayBuffer, t.offset, t.shape, t.strides, dtypeCode[t.dtype]]
}

const toArg = (a: unknown): unknown => (a instanceof Tensor ? describe(a) : a)

export const cpuBackend: Backend = {
  device: 'cpu',
  allocate(bytes: number): Storage {
    return new CpuStorage(takeCached(bytes) ?? native.alloc(bytes), bytes)
  },
  toHost(t: Tensor): TypedArray {
    if (t.storage.disposed) throw new Error('data: the tensor was disposed')
    return hostView(t).slice()
  },
  fromHost(t: Tensor, data: TypedArray): void {
    hostView(t).set(data)
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
