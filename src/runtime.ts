// Process-level settings of the CPU engine.
import { cpuMemoryStats } from './backend/cpu'
import { native } from './backend/native'

/** Threads the CPU kernels use (defaults to the core count, or INTERN_VISION_NUM_THREADS). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setNumThreads: n must be a positive integer, got ${n}`)
  native.setNumThreads(n)
}

export function getNumThreads(): number {
  return native.cpuInfo().threads
}

/** Which kernel set runs (avx512, avx2 or generic; INTERN_VISION_ISA lowers it) and threads. */
export function cpuInfo(): { isa: string; detectedIsa: string; threads: number } {
  return native.cpuInfo()
}

/** CPU tensor memory now held: bytes and blocks (storages). Disposed memory leaves at once,
 * garbage-collected memory once its finaliser has run. */
export function memoryStats(): { bytes: number; blocks: number } {
  return cpuMemoryStats()
}
