// torch.cuda's basics. Nothing here loads the GPU until asked: the first call probes the
// CUDA binary in a child process (see backend/cuda-loader.ts).
import { cudaState, requireCuda, type CudaMemoryStats } from './backend/cuda'

export type { CudaMemoryStats } from './backend/cuda'

/** Whether 'cuda' tensors can be made here. Never throws. */
export function isAvailable(): boolean {
  return cudaState().available
}

/** Why CUDA is off, in one line; null when it is available. */
export function unavailableReason(): string | null {
  const s = cudaState()
  return s.available ? null : s.reason
}

export function deviceCount(): number {
  const s = cudaState()
  return s.available ? s.probe.deviceCount : 0
}

/** The name of the device tensors live on (device 0). */
export function deviceName(): string {
  return requireCuda('deviceName').deviceName()
}

/** Waits until every kernel and copy queued so far has finished. */
export function synchronize(): void {
  requireCuda('synchronize').synchronize()
}

/** The caching allocator's counters (all zero when CUDA is off). */
export function memoryStats(): CudaMemoryStats {
  const s = cudaState()
  if (s.available) return s.addon.memoryStats()
  return { allocatedBytes: 0, reservedBytes: 0, cachedBytes: 0, peakAllocatedBytes: 0, blocks: 0, cudaMallocs: 0 }
}

/** Returns the cached free blocks to the driver (other processes can then use the memory). */
export function emptyCache(): void {
  const s = cudaState()
  if (s.available) s.addon.emptyCache()
}

/** Device milliseconds of the work `fn` queues, measured with CUDA events (waits for it). */
export function time(fn: () => void): number {
  const addon = requireCuda('time')
  addon.timerStart()
  fn()
  return addon.timerStop()
}
