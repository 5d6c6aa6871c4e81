// Finds the CUDA addon and decides whether this process may use it. node-gyp-build cannot
// tell a CPU build from a CUDA one, so the CUDA backend is a second binary with its own
// name, and it is first loaded in a child process: a missing or broken driver, or a binary
// without code for this GPU, then costs a reason string instead of the host process.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { packageRoot } from './native'

/** What the addon's probe() reports (native/cuda/binding/runtime.cc). */
export interface CudaProbe {
  driverVersion: number
  runtimeVersion: number
  deviceCount: number
  name?: string
  capability?: string
  error?: string
}

export type CudaLoad<Addon> = { ok: true; addon: Addon; probe: CudaProbe } | { ok: false; reason: string }

const PROBE_TIMEOUT_MS = 60_000

/** The file name of a prebuilt CUDA binary under prebuilds/<platform>-<arch>/. */
export const PREBUILT_NAME = 'intern-vision-cuda.node'

/** Where the binary may be, in order: INTERN_VISION_CUDA_BINARY, the cmake-js build, a prebuild. */
export function cudaBinaryCandidates(root = packageRoot): string[] {
  const override = process.env.INTERN_VISION_CUDA_BINARY
  if (override) return [path.resolve(override)]
  return [
    path.join(root, 'build-cuda', 'Release', 'intern_vision_cuda.node'),
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, PREBUILT_NAME),
  ]
}

// Runs in the child: load the binary, report probe() as JSON on stdout. process.dlopen
// loads any file name as a native addon (require would read a name without .node as JS).
const PROBE_SOURCE = `const m = { exports: {} }; process.dlopen(m, process.argv[1]); process.stdout.write(JSON.stringify(m.exports.probe()))`

function dlopen<T>(binary: string): T {
  const m = { exports: {} as T }
  process.dlopen(m, binary)
  return m.exports
}

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('at ') && l !== '^')
  return lines.find((l) => /Error/.test(l)) ?? lines[lines.length - 1] ?? ''
}

/** Loads `binary` in a child process and asks it about the driver and the devices. */
export function probeInChild(binary: string): { probe: CudaProbe } | { reason: string } {
  const r = spawnSync(process.execPath, ['-e', PROBE_SOURCE, binary], {
    encoding: 'utf8',
    timeout: PROBE_TIMEOUT_MS,
    env: process.env,
  })
  if (r.error) {
    const timedOut = (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT'
    return {
      reason: timedOut
        ? `the CUDA probe of ${binary} did not finish within ${PROBE_TIMEOUT_MS / 1000} s`
        : `could not run the CUDA probe: ${r.error.message}`,
    }
  }
  if (r.signal) return { reason: `the CUDA probe crashed (${r.signal}) loading ${binary}` }
  if (r.status !== 0) return { reason: `${binary} failed to load: ${lastLine(r.stderr) || `exit code ${r.status}`}` }
  try {
    return { probe: JSON.parse(r.stdout) as CudaProbe }
  } catch {
    return { reason: `the CUDA probe of ${binary} printed no result` }
  }
}

/** Finds, probes and loads the CUDA addon; `ok: false` carries one line saying why not. */
export function loadCudaAddon<Addon>(): CudaLoad<Addon> {
  const flag = process.env.INTERN_VISION_CUDA
  if (flag === '0' || flag === 'false' || flag === 'off')
    return { ok: false, reason: `disabled by INTERN_VISION_CUDA=${flag}` }
  const candidates = cudaBinaryCandidates()
  const binary = candidates.find((p) => fs.existsSync(p))
  if (!binary)
    return {
      ok: false,
      reason: `no CUDA build found (looked for ${candidates.join(', ')}; build it with \`npx cmake-js compile -O build-cuda\` where nvcc is installed)`,
    }
  const probed = probeInChild(binary)
  if ('reason' in probed) return { ok: false, reason: probed.reason }
  const p = probed.probe
  if (p.error)
    return {
      ok: false,
      reason: `the CUDA driver reports ${p.error} (driver ${p.driverVersion}, runtime ${p.runtimeVersion})`,
    }
  if (p.deviceCount < 1) return { ok: false, reason: 'no CUDA device found' }
  try {
    return { ok: true, addon: dlopen<Addon>(binary), probe: p }
  } catch (e) {
    return { ok: false, reason: `${binary} passed its probe but failed to load: ${(e as Error).message}` }
  }
}
