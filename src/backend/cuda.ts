// The CUDA backend: the Backend interface on the CUDA addon (native/cuda). It is registered
// for 'cuda' at import as a lazy stand-in: the first use finds, probes and loads the addon
// (cuda-loader.ts) and then puts the real backend in its place, or fails with the reason,
// so a process that never touches the GPU never pays for the probe.
import type { Backend, Storage } from './backend'
import { describe, kernelCalls } from './kernel-calls'
import { registerBackend } from './index'
import { loadCudaAddon, type CudaProbe } from './cuda-loader'
import { newTypedArray } from './element-types'
import type { TypedArray } from '../tensor/dtype'
import type { Tensor } from '../tensor/tensor'

/** A device buffer: an opaque handle owned by the addon (returned to its cache when freed or collected). */
export type DeviceHandle = object & { readonly __deviceHandle: unique symbol }
export type CudaDescriptor = [DeviceHandle, number, number[], number[], number]

export interface CudaMemoryStats {
  /** Bytes in blocks held by tensors (sizes rounded by the caching allocator). */
  allocatedBytes: number
  /** Bytes obtained from the driver: allocated plus cached. */
  reservedBytes: number
  /** Bytes in freed blocks kept for reuse (emptyCache() returns them). */
  cachedBytes: number
  peakAllocatedBytes: number
  blocks: number
  /** Cache misses so far (each one a cudaMalloc). */
  cudaMallocs: number
}

export interface CudaAddon {
  probe(): CudaProbe
  deviceCount(): number
  deviceName(): string
  synchronize(): void
  memoryStats(): CudaMemoryStats
  emptyCache(): void
  alloc(bytes: number): DeviceHandle
  free(handle: DeviceHandle): boolean
  toHost(src: CudaDescriptor, dst: TypedArray): void
  fromHost(dst: CudaDescriptor, src: TypedArray): void
  timerStart(): void
  timerStop(): number
  unary(op: string, out: CudaDescriptor, x: CudaDescriptor, a: number, b: number): void
  binary(op: string, out: CudaDescriptor, a: CudaDescriptor, b: CudaDescriptor, alpha: number): void
  where(out: CudaDescriptor, cond: CudaDescriptor, a: CudaDescriptor, b: CudaDescriptor): void
  copy(out: CudaDescriptor, src: CudaDescriptor): void
  fill(out: CudaDescriptor, value: number): void
  reduce(op: string, out: CudaDescriptor, x: CudaDescriptor, reduced: number, correction: number): void
  matmul(out: CudaDescriptor, a: CudaDescriptor, b: CudaDescriptor, bias: CudaDescriptor | null): void
  [kernel: string]: unknown
}

class CudaStorage implements Storage {
  readonly device = 'cuda' as const
  private refs = 1
  constructor(
    private readonly addon: CudaAddon,
    readonly handle: DeviceHandle,
    readonly byteLength: number,
  ) {}
  get disposed(): boolean {
    return this.refs <= 0
  }
  retain(): void {
    this.refs++
  }
  release(): void {
    if (this.refs > 0 && --this.refs === 0) this.addon.free(this.handle)
  }
}

export function makeCudaBackend(addon: CudaAddon): Backend {
  const allocate = (bytes: number): Storage => new CudaStorage(addon, addon.alloc(bytes), bytes)
  return {
    device: 'cuda',
    allocate,
    toHost(t: Tensor): TypedArray {
      if (t.storage.disposed) throw new Error('data: the tensor was disposed')
      const out = newTypedArray(t.dtype, t.numel)
      addon.toHost(describe(t) as CudaDescriptor, out)
      return out
    },
    fromHost(t: Tensor, data: TypedArray): void {
      addon.fromHost(describe(t) as CudaDescriptor, data)
    },
    ...kernelCalls(addon as unknown as Record<string, unknown>, 'CUDA', allocate),
  }
}

type State =
  { available: true; addon: CudaAddon; probe: CudaProbe; backend: Backend } | { available: false; reason: string }
let state: State | null = null
let reasonPrinted = false

/** Loads the backend on first call (probe in a child, then in-process) and registers it. */
export function cudaState(): State {
  if (state) return state
  const loaded = loadCudaAddon<CudaAddon>()
  if (loaded.ok) {
    const backend = makeCudaBackend(loaded.addon)
    registerBackend(backend)
    state = { available: true, addon: loaded.addon, probe: loaded.probe, backend }
  } else {
    state = { available: false, reason: loaded.reason }
  }
  return state
}

/** The loaded addon, or an Error naming `what` and why CUDA is off (printed once to stderr). */
export function requireCuda(what: string): CudaAddon {
  const s = cudaState()
  if (s.available) return s.addon
  if (!reasonPrinted) {
    reasonPrinted = true
    console.warn(`intern-vision: CUDA is not available: ${s.reason}`)
  }
  throw new Error(`${what}: CUDA is not available: ${s.reason}`)
}

// The stand-in: every method loads the real backend (which replaces it in the registry)
// and forwards, or throws the reason.
const real = (what: string): Backend => {
  requireCuda(what)
  return (cudaState() as { backend: Backend }).backend
}
registerBackend({
  device: 'cuda',
  allocate: (bytes) => real("cannot make a 'cuda' tensor").allocate(bytes),
  toHost: (t) => real('data').toHost(t),
  fromHost: (t, data) => real('to').fromHost(t, data),
  copy: (out, src) => real('copy').copy(out, src),
  fill: (out, value) => real('fill').fill(out, value),
  unary: (op, out, x, a, b) => real(op).unary(op, out, x, a, b),
  binary: (op, out, a, b, alpha) => real(op).binary(op, out, a, b, alpha),
  where: (out, cond, a, b) => real('where').where(out, cond, a, b),
  reduce: (op, out, x, reduced, correction) => real(op).reduce(op, out, x, reduced, correction),
  matmul: (out, a, b, bias) => real('matmul').matmul(out, a, b, bias),
  run: (name, ...args) => real(name).run(name, ...args),
  has: (name) => cudaState().available && real(name).has(name),
})
