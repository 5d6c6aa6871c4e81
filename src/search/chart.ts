// An SVG chart of a search: one panel per cost (score against FLOPs, score against latency),
// every trial a grey dot, the Pareto front a line through its points, the chosen best ringed.
// Plain SVG text: no dependency, opens in any browser.
import { paretoFront, type Point } from './pareto'

export interface ChartPanel {
  title: string
  xLabel: string
  points: Point[]
  /** Ringed in red (the best config under the budget). */
  highlight?: number
}

const W = 420
const H = 320
const M = { left: 56, right: 16, top: 32, bottom: 48 }
const LEGEND = 18

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) as number
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

const label = (v: number): string =>
  Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(3)))

function panel(p: ChartPanel, x0: number): string {
  const pad = (lo: number, hi: number): [number, number] =>
    hi > lo ? [lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)] : [lo - 1, hi + 1]
  const [xlo, xhi] = pad(Math.min(...p.points.map((q) => q.cost)), Math.max(...p.points.map((q) => q.cost)))
  const [ylo, yhi] = pad(Math.min(...p.points.map((q) => q.score)), Math.max(...p.points.map((q) => q.score)))
  const X = (v: number): number => x0 + M.left + ((v - xlo) / (xhi - xlo)) * (W - M.left - M.right)
  const Y = (v: number): number => M.top + (1 - (v - ylo) / (yhi - ylo)) * (H - M.top - M.bottom)
  const f = (v: number): string => v.toFixed(1)
  const out: string[] = []
  out.push(`<text x="${f(x0 + W / 2)}" y="18" text-anchor="middle" font-weight="bold">${escape(p.title)}</text>`)
  out.push(
    `<rect x="${f(x0 + M.left)}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#888"/>`,
  )
  for (const t of ticks(xlo, xhi))
    out.push(`<text x="${f(X(t))}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11">${label(t)}</text>`)
  for (const t of ticks(ylo, yhi))
    out.push(`<text x="${f(x0 + M.left - 6)}" y="${f(Y(t) + 4)}" text-anchor="end" font-size="11">${label(t)}</text>`)
  out.push(
    `<text x="${f(x0 + (M.left + W - M.right) / 2)}" y="${H - 10}" text-anchor="middle" font-size="12">${escape(p.xLabel)}</text>`,
  )
  out.push(
    `<text transform="translate(${f(x0 + 14)},${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">score</text>`,
  )
  for (const q of p.points)
    out.push(
      `<circle cx="${f(X(q.cost))}" cy="${f(Y(q.score))}" r="3" fill="#999"><title>trial ${q.id}</title></circle>`,
    )
  const front = paretoFront(p.points)
  out.push(
    `<polyline class="front" fill="none" stroke="#1f6feb" stroke-width="2" points="${front.map((q) => `${f(X(q.cost))},${f(Y(q.score))}`).join(' ')}"/>`,
  )
  for (const q of front)
    out.push(
      `<circle class="front" cx="${f(X(q.cost))}" cy="${f(Y(q.score))}" r="4" fill="#1f6feb"><title>trial ${q.id}</title></circle>`,
    )
  const best = p.points.find((q) => q.id === p.highlight)
  if (best)
    out.push(
      `<circle class="best" cx="${f(X(best.cost))}" cy="${f(Y(best.score))}" r="8" fill="none" stroke="#d1242f" stroke-width="2"/>`,
    )
  return out.join('\n')
}

/** The chart of one or more panels side by side, as an SVG document. */
export function paretoChart(panels: ChartPanel[]): string {
  const used = panels.filter((p) => p.points.length > 0)
  const width = W * Math.max(1, used.length)
  const body = used.map((p, i) => panel(p, i * W)).join('\n')
  const legend = `<text x="${width / 2}" y="${H + LEGEND - 8}" text-anchor="middle" font-size="11">grey: trials; blue: Pareto front; red ring: best under the budget</text>`
  const height = H + LEGEND
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n${legend}\n</svg>\n`
}
