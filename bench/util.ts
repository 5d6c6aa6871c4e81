// Shared by the bench scripts: medians, a PyTorch side run in the same process tree, and a
// plain-text table. Timings are medians of repeated runs; machines here are noisy, so the
// comparison that matters is the ratio printed beside each figure.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as iv from '../src'
import { metaNetConfig } from '../src/models'

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/**
 * Median seconds of fn over `runs` runs after `warmup` unmeasured ones, and after more until
 * `warmSeconds` have passed: V8 compiles a function's optimised code only after many calls,
 * so a sub-millisecond op's first few dozen runs time the interpreter's JavaScript around it.
 */
export function timeIt(fn: () => void, runs = 7, warmup = 2, warmSeconds = 0): number {
  const warmUntil = process.hrtime.bigint() + BigInt(Math.round(warmSeconds * 1e9))
  for (let i = 0; i < warmup || process.hrtime.bigint() < warmUntil; i++) fn()
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint()
    fn()
    times.push(Number(process.hrtime.bigint() - t0) / 1e9)
  }
  return median(times)
}

const torchPython = ['/usr/bin/python3', 'python3'].find((p) => {
  if (p.startsWith('/') && !fs.existsSync(p)) return false
  return spawnSync(p, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0
})

/** Whether PyTorch can be imported (Debian's python3-torch), for the comparison columns. */
export const hasTorch = torchPython !== undefined

/**
 * Runs a Python snippet with torch imported, 2 threads, and a `timeit(fn, runs, warmup)`
 * helper defined; the snippet prints one JSON value, which is returned.
 */
export function torchRun<T>(code: string): T | null {
  if (!torchPython) return null
  const prelude = [
    'import json, time, statistics, torch',
    'torch.set_num_threads(2)',
    'def timeit(fn, runs=7, warmup=2, warm_seconds=0):',
    '    until = time.perf_counter() + warm_seconds',
    '    i = 0',
    '    while i < warmup or time.perf_counter() < until:',
    '        fn(); i += 1',
    '    ts = []',
    '    for _ in range(runs):',
    '        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)',
    '    return statistics.median(ts)',
  ].join('\n')
  const r = spawnSync(torchPython, ['-c', `${prelude}\n${code}`], { encoding: 'utf8', maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`PyTorch side failed: ${r.stderr.slice(-2000)}`)
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T
}

export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)))
  console.log(`\n${title}`)
  cells.forEach((r, k) => {
    console.log('| ' + r.map((c, i) => String(c ?? '').padStart(widths[i])).join(' | ') + ' |')
    if (k === 0) console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|')
  })
}

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return '-'
  if (Number.isInteger(x)) return String(x)
  if (Math.abs(x) >= 100) return x.toFixed(0)
  if (Math.abs(x) >= 10) return x.toFixed(1)
  return x.toFixed(2)
}

/**
 * Median seconds per call of conv2d's three passes, [forward, input gradient, weight
 * gradient], on random tensors of x's and w's shapes in `dtype`. The gradients are timed
 * through the native entry points the ops call, so each pass is timed alone and without
 * autograd bookkeeping.
 */
export function timeConvPasses(
  xShape: number[],
  wShape: number[],
  opts: { stride: number; padding: number; groups?: number },
  runs: number,
  dtype: iv.DType = 'float32',
): number[] {
  return iv.noGrad(() => {
    const x = iv.randn(xShape).to(dtype)
    const w = iv.randn(wShape).to(dtype)
    const y = iv.conv2d(x, w, null, opts)
    const gy = iv.randn(y.shape).to(dtype)
    const { stride: s, padding: p, groups = 1 } = opts
    const params = [s, s, p, p, p, p, 1, 1, groups]
    const gx = iv.Tensor.empty(x.shape, dtype)
    const gw = iv.Tensor.empty(w.shape, dtype)
    const times = [
      timeIt(() => iv.conv2d(x, w, null, opts).dispose(), runs),
      timeIt(() => x.backend.run('conv2dBackwardInput', gx, gy, w, params), runs),
      timeIt(() => x.backend.run('conv2dBackwardWeight', gw, null, gy, x, params), runs),
    ]
    for (const t of [x, w, y, gy, gx, gw]) t.dispose()
    return times
  })
}

/** A named MetaNet configuration in the form of scripts/fixtures/models.py's MetaNet (the
 * PyTorch reference module), for the benches' PyTorch side. */
export function torchMetaNetConfig(name: string): Record<string, unknown> {
  const c = metaNetConfig(name)
  return {
    stem: c.stemWidth,
    head: c.headWidth,
    head_dim: c.stages.find((s) => s.block === 'sa' || s.block === 'xca')?.headDim ?? 32,
    stages: c.stages.map((s) => [s.block, s.repeats, s.expansion, s.channels, s.stride]),
  }
}
