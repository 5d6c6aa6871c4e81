import * as os from 'node:os'
import type { Backend, Storage } from './backend'
import { kernelCalls } from './kernel-calls'
import { native } from './native'
import { profilerHooks } from './profiler-hooks'
import { typedArrayFor } from './element-types'
import type { TypedArray } from '../tensor/dtype'
import type { Tensor } from '../tensor/tensor'

// Disposed buffers wait here, binned by exact size, for the next allocation of that size: a
// training step allocates the same sizes every time, and a fresh buffer costs page faults and
// zeroing (V8 zero-fills new ArrayBuffers). Like PyTorch's caching allocator, the cache holds
// memory the process no longer uses; emptyCache() gives it back. Reused memory is not
// zeroed, as empty() promises nothing; INTERN_VISION_POISON=1 fills it with NaN bytes
// (0xff) so that a kernel reading an output it never wrote shows up in tests. A cached buffer
// keeps its ArrayBuffer: moving the memory to a new one at each reuse (so that stale views
// were detached) made V8 count every reuse as fresh external memory and scavenge several times
// per training step. Stale tensors are refused before they reach a kernel instead: every kernel
// call checks its tensors' storage (kernel-calls.ts).
// When a buffer does not fit under the limit, the bins least recently used make room for it
// (LRU by size): a program that moves on to other sizes (another model, another batch) gets
// them cached in place of sizes it no longer asks for, where a cache that refused what did
// not fit kept the old sizes and faulted in fresh pages for every new buffer (MN-B4 at batch
// 1 after ResNet-50 at batch 64 ran 5 times slower: bench/RESULTS.md).
interface Bin {
  buffers: ArrayBuffer[]
  /** The cache's clock when a buffer last came or went. */
  used: number
}
const cache = new Map<number, Bin>()
let clock = 0
let cachedBytes = 0
let cachedBlocks = 0
const cacheLimit = cacheLimitBytes(process.env.INTERN_VISION_CACHE_BYTES)
// The addon keeps the blocks of buffers V8 has freed (memory.cc) by the same rule, within a
// smaller bound: those belong to no tensor the program holds.
native.setCachedBlockLimit(Math.min(cacheLimit, 512 * 2 ** 20))
const poison = process.env.INTERN_VISION_POISON === '1'
/** At most this many buffers wait in the cache (an ArrayBuffer object each, whatever its size). */
export const maxCachedBlocks = 1 << 16

/** The cache's size: INTERN_VISION_CACHE_BYTES, or a quarter of the machine's memory, which
 * holds a ResNet-18 step's peak (689 MB at batch 64: bench/RESULTS.md) so that a training
 * loop reuses every buffer instead of faulting in fresh pages each step. */
function cacheLimitBytes(setting: string | undefined): number {
  if (setting === undefined) return Math.floor(os.totalmem() / 4)
  const bytes = Number(setting)
  if (setting.trim() === '' || !Number.isFinite(bytes) || bytes < 0)
    throw new Error(`INTERN_VISION_CACHE_BYTES must be a non-negative number of bytes, got '${setting}'`)
  return bytes
}

function takeCached(bytes: number): ArrayBuffer | undefined {
  const bin = cache.get(bytes)
  const buffer = bin?.buffers.pop()
  if (!buffer) return undefined
  bin!.used = ++clock
  cachedBytes -= bytes
  cachedBlocks--
  if (poison) new Uint8Array(buffer).fill(0xff)
  return buffer
}

function putCached(buffer: ArrayBuffer, bytes: number): void {
  // Small blocks are cached too: a cached one costs a Map lookup, a fresh one an external
  // ArrayBuffer (calloc, and V8's external-memory accounting, which brings scavenges nearer).
  // The count bound keeps many tiny blocks, whose bytes the limit barely sees, from piling up.
  if (bytes > cacheLimit / 4) {
    native.free(buffer)
    return
  }
  if (cachedBytes + bytes > cacheLimit || cachedBlocks >= maxCachedBlocks) evictFor(bytes)
  let bin = cache.get(bytes)
  if (!bin) cache.set(bytes, (bin = { buffers: [], used: 0 }))
  bin.buffers.push(buffer)
  bin.used = ++clock
  cachedBytes += bytes
  cachedBlocks++
}

/** Frees buffers from the bins least recently used, oldest first, until a buffer of `bytes`
 * fits with 1/64 of both bounds to spare, so that a program moving to new sizes sorts the
 * bins once in a while, not at every buffer it puts. */
function evictFor(bytes: number): void {
  const byteGoal = cacheLimit - cacheLimit / 64 - bytes
  const blockGoal = maxCachedBlocks - maxCachedBlocks / 64 - 1
  const oldestFirst = [...cache].sort((a, b) => a[1].used - b[1].used)
  for (const [size, bin] of oldestFirst) {
    const overBytes = cachedBytes - byteGoal,
      overBlocks = cachedBlocks - blockGoal
    if (overBytes <= 0 && overBlocks <= 0) break
    const n = Math.min(bin.buffers.length, Math.max(size > 0 ? Math.ceil(overBytes / size) : 0, overBlocks))
    // The front of a bin holds its oldest buffers (takes pop from the back).
    for (const b of bin.buffers.splice(0, n)) native.free(b)
    cachedBytes -= size * n
    cachedBlocks -= n
    if (bin.buffers.length === 0) cache.delete(size)
  }
}

/** Frees the buffers cached for reuse (torch.cuda.empty_cache's CPU twin), and the blocks the
 * addon keeps from buffers V8 has freed. */
export function emptyCpuCache(): void {
  for (const bin of cache.values()) for (const b of bin.buffers) native.free(b)
  cache.clear()
  cachedBytes = 0
  cachedBlocks = 0
  native.releaseCachedBlocks()
}

/** Live tensor memory: what the addon allocated and has not freed (its count drops the moment
 * the GC frees a buffer), less what waits in the cache; cachedBytes also counts the freed
 * blocks the addon keeps for reuse. */
export function cpuMemoryStats(): { bytes: number; blocks: number; cachedBytes: number } {
  const allocated = native.memoryStats()
  return {
    bytes: allocated.bytes - cachedBytes,
    blocks: allocated.blocks - cachedBlocks,
    cachedBytes: cachedBytes + allocated.mappedCachedBytes,
  }
}

class CpuStorage implements Storage {
  readonly device = 'cpu' as const
  private refs = 1
  private aligned = -1
  constructor(
    readonly handle: ArrayBuffer,
    readonly byteLength: number,
  ) {}
  /** Byte offset of the 64-byte aligned data inside the buffer (the kernels align alike); asked
   * of the addon on the first host read only, as kernels never need it from here. */
  get byteOffset(): number {
    if (this.aligned < 0) this.aligned = native.alignedOffset(this.handle)
    return this.aligned
  }
  get disposed(): boolean {
    return this.refs <= 0
  }
  retain(): void {
    this.refs++
  }
  release(): void {
    if (this.refs > 0 && --this.refs === 0) {
      putCached(this.handle, this.byteLength)
    }
  }
}

/** From this size data() copies into a block of the addon's (copyToHost in memory.cc). */
const hostBlockBytes = 128 * 2 ** 10

/** A live byte view of part of a contiguous CPU tensor's memory, for tensors of any size
 * (a typed array over all of a tensor is limited to 2^32 elements). */
export function hostBytes(t: Tensor, start: number, length: number): Uint8Array {
  const s = t.storage as CpuStorage
  return new Uint8Array(s.handle, s.byteOffset + t.offset * t.itemSize + start, length)
}

/** A live typed-array view of a CPU tensor's elements (contiguous tensors only). */
export function hostView(t: Tensor): TypedArray {
  const s = t.storage as CpuStorage
  return typedArrayFor(t.dtype, s.handle, s.byteOffset + t.offset * t.itemSize, t.numel)
}

export const cpuBackend: Backend = {
  device: 'cpu',
  allocate(bytes: number): Storage {
    if (profilerHooks.active) profilerHooks.allocated(bytes)
    return new CpuStorage(takeCached(bytes) ?? native.alloc(bytes), bytes)
  },
  toHost(t: Tensor): TypedArray {
    if (t.storage.disposed) throw new Error('data: the tensor was disposed')
    const view = hostView(t)
    if (view.byteLength < hostBlockBytes) return view.slice()
    // A larger array comes from the addon: mapped memory (huge pages from 2 MiB), filled by the
    // worker threads and reused once V8 frees the array, since a fresh page's first touch is
    // the cost here (bench/transfer.ts).
    const s = t.storage as CpuStorage
    const bytes = native.copyToHost(s.handle, view.byteOffset, view.byteLength)
    return typedArrayFor(t.dtype, bytes, 0, view.length)
  },
  fromHost(t: Tensor, data: TypedArray): void {
    hostView(t).set(data)
  },
  ...kernelCalls(native, 'CPU', (bytes) => cpuBackend.allocate(bytes), true),
}
