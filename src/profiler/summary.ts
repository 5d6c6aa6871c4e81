// torch.profiler's key_averages() for a profile: one row per (name, pass, kind), and the
// printed table.
import type { Pass, SpanKind } from './recorder'

export interface ProfileRow {
  name: string
  pass: Pass
  kind: SpanKind
  calls: number
  totalMs: number
  selfMs: number
  meanMs: number
  /** totalMs as a percentage of the profile's wall time. */
  percent: number
  /** Tensor memory allocated for these calls (their outputs, for a kernel). */
  bytes: number
  /** The kernel's tensor argument shapes, when the profile records shapes. */
  shapes?: string
}

export interface ProfileTotals {
  wallMs: number
  /** Time inside native kernel calls (kernels never nest, so this is a plain sum). */
  kernelMs: number
  /** wallMs - kernelMs: argument checks, allocation, autograd and other JS or N-API work. */
  outsideKernelsMs: number
  /** Bytes of tensor memory allocated while recording. */
  allocatedBytes: number
  /** Largest live tensor memory seen (memoryStats().bytes), CPU only. */
  peakBytes: number
}

type Sums = Omit<ProfileRow, 'meanMs' | 'percent'>

/** The rows of key_averages(): per-call means and shares of the wall time, by self time. */
export function finishRows(sums: Iterable<Sums>, wallMs: number): ProfileRow[] {
  const rows = [...sums].map((s) => ({
    ...s,
    meanMs: s.totalMs / s.calls,
    percent: wallMs > 0 ? (100 * s.totalMs) / wallMs : 0,
  }))
  return rows.sort((a, b) => b.selfMs - a.selfMs)
}

export interface TableOptions {
  /** Sort by self time (default) or total time. */
  sortBy?: 'self' | 'total'
  /** Rows shown (default 25); the totals always cover every row. */
  rowLimit?: number
}

const ms = (x: number) => (x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3))
const mb = (b: number) => (b / 2 ** 20).toFixed(2)
const pct = (x: number) => `${x.toFixed(1)}%`

export function formatTable(rows: readonly ProfileRow[], totals: ProfileTotals, opts: TableOptions = {}): string {
  const sortBy = opts.sortBy ?? 'self'
  if (sortBy !== 'self' && sortBy !== 'total')
    throw new Error(`profile: sortBy must be 'self' or 'total', got '${String(sortBy)}'`)
  const limit = opts.rowLimit ?? 25
  const key = sortBy === 'self' ? (r: ProfileRow) => r.selfMs : (r: ProfileRow) => r.totalMs
  const shown = [...rows].sort((a, b) => key(b) - key(a)).slice(0, limit)
  const header = ['Name', 'Pass', 'Kind', 'Calls', 'Self ms', 'Self %', 'Total ms', 'Total %', 'Mean ms', 'Alloc MB']
  const withShapes = rows.some((r) => r.shapes !== undefined)
  if (withShapes) header.push('Input shapes')
  const wall = totals.wallMs
  const cells = shown.map((r) => {
    const c = [
      r.name,
      r.pass,
      r.kind,
      String(r.calls),
      ms(r.selfMs),
      pct(wall > 0 ? (100 * r.selfMs) / wall : 0),
      ms(r.totalMs),
      pct(r.percent),
      ms(r.meanMs),
      mb(r.bytes),
    ]
    if (withShapes) c.push(r.shapes ?? '')
    return c
  })
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)))
  // Names and shapes to the left, numbers to the right.
  const left = (i: number) => i < 3 || i === 10
  const line = (c: string[]) =>
    c
      .map((s, i) => (left(i) ? s.padEnd(widths[i]) : s.padStart(widths[i])))
      .join('  ')
      .trimEnd()
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  const share = (x: number) => (wall > 0 ? pct((100 * x) / wall) : '-')
  return [
    rule,
    line(header),
    rule,
    ...cells.map(line),
    rule,
    `${rows.length > shown.length ? `${shown.length} of ${rows.length} rows, by ${sortBy} time. ` : ''}` +
      `Wall time ${ms(wall)} ms: ${ms(totals.kernelMs)} ms (${share(totals.kernelMs)}) inside kernels, ` +
      `${ms(totals.outsideKernelsMs)} ms (${share(totals.outsideKernelsMs)}) outside them (JS, N-API, allocation).`,
    `Tensor memory allocated ${mb(totals.allocatedBytes)} MB; peak live ${mb(totals.peakBytes)} MB.`,
  ].join('\n')
}
