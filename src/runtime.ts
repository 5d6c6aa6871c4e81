// Process-level settings of the CPU engine, and the package's version.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { cpuMemoryStats, emptyCpuCache } from './backend/cpu'
import { native, packageRoot } from './backend/native'

/** Threads the CPU kernels use (defaults to the core count, or INTERN_VISION_NUM_THREADS). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setNumThreads: n must be a positive integer, got ${n}`)
  native.setNumThreads(n)
}

export function getNumThreads(): number {
  return native.cpuInfo().threads
}

/** Which kernel set runs (avx512, avx2 or generic; INTERN_VISION_ISA lowers it), whether the
 * bfloat16 GEMM runs on AVX512-BF16 (`bf16`; INTERN_VISION_ISA=avx512 turns it off), and threads. */
export function cpuInfo(): { isa: string; detectedIsa: string; bf16: boolean; threads: number } {
  return native.cpuInfo()
}

/** CPU tensor memory of this thread: `bytes` and `blocks` held by live tensors (memory leaves
 * the count the moment it is disposed or garbage-collected), and `cachedBytes` kept for reuse
 * by later allocations of the same size. */
export function memoryStats(): { bytes: number; blocks: number; cachedBytes: number } {
  return cpuMemoryStats()
}

/** Frees the CPU memory cached for reuse. */
export function emptyCache(): void {
  emptyCpuCache()
}

let version: string | undefined
/** The version in the package's package.json. */
export function packageVersion(): string {
  version ??= (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string })
    .version
  return version
}
