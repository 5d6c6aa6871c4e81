// Loads the CPU addon: a prebuilt binary from prebuilds/ when one fits this platform, else
// the one node-gyp built at install time (node-gyp-build picks).
import * as path from 'node:path'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon

/** [buffer, offset, shape, strides, dtype code], or the packed [buffer, Float64Array layout]. */
export type Descriptor = [ArrayBuffer, number, number[], number[], number] | [ArrayBuffer, Float64Array]

export interface NativeAddon {
  alloc(bytes: number): ArrayBuffer
  free(buffer: ArrayBuffer): boolean
  alignedOffset(buffer: ArrayBuffer): number
  /** A new ArrayBuffer holding a copy of `bytes` (>= 128 KiB) bytes of `buffer` from `byteOffset`. */
  copyToHost(buffer: ArrayBuffer, byteOffset: number, bytes: number): ArrayBuffer
  /** Bytes and blocks this thread's alloc() made that are not yet freed, and the bytes of
   * freed mapped blocks (2 MiB and more) the addon keeps for reuse. */
  memoryStats(): { bytes: number; blocks: number; mappedCachedBytes: number }
  /** Unmaps the freed blocks kept for reuse. */
  releaseCachedBlocks(): void
  /** The most bytes of freed blocks kept for reuse (a block above a quarter of it is not kept). */
  setCachedBlockLimit(bytes: number): void
  cpuInfo(): { isa: string; detectedIsa: string; bf16: boolean; threads: number }
  setNumThreads(n: number): void
  unary(op: string, out: Descriptor, x: Descriptor, a: number, b: number): void
  binary(op: string, out: Descriptor, a: Descriptor, b: Descriptor, alpha: number): void
  where(out: Descriptor, cond: Descriptor, a: Descriptor, b: Descriptor): void
  copy(out: Descriptor, src: Descriptor): void
  fill(out: Descriptor, value: number): void
  reduce(op: string, out: Descriptor, x: Descriptor, reduced: number, correction: number): void
  matmul(out: Descriptor, a: Descriptor, b: Descriptor, bias: Descriptor | null): void
  [kernel: string]: unknown
}

/** The package root, where binding.gyp and prebuilds/ live (two levels above lib/backend). */
export const packageRoot = path.resolve(__dirname, '..', '..')

export const native: NativeAddon = nodeGypBuild(packageRoot)
