// Two small inline-SVG chart kinds for the HTML report: horizontal grouped bars with error bars,
// and line charts. Plain strings, no scripts and nothing fetched, so report.html stays one file.

export interface Bar {
  /** In display units (e.g. percent). */
  value: number
  /** Half-length of the error bar (the std), or null for none. */
  error: number | null
  text: string
}

export interface BarChart {
  id: string
  title: string
  axisLabel: string
  series: string[]
  /** One entry per group (drawn top to bottom), one bar per series; null where nothing was measured. */
  groups: { label: string; bars: (Bar | null)[] }[]
}

export interface LineChart {
  id: string
  title: string
  xLabel: string
  yLabel: string
  series: { label: string; points: [number, number][] }[]
}

/** Okabe-Ito colours: distinguishable with the common colour-vision deficiencies. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000']

export function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'
const round = (v: number): string => String(Math.round(v * 10) / 10)

export function barChart(spec: BarChart): string {
  const width = 680
  const left = 210
  const right = 110
  const top = 48
  const barHeight = 13
  const groupGap = 10
  const groupHeight = spec.series.length * (barHeight + 2) + groupGap
  const plotHeight = Math.max(1, spec.groups.length) * groupHeight
  const height = top + plotHeight + 40
  const extent = Math.max(
    0,
    ...spec.groups.flatMap((g) => g.bars.map((b) => (b === null ? 0 : b.value + (b.error ?? 0)))),
  )
  const ticks = niceTicks(0, extent > 0 ? extent : 1)
  const max = ticks[ticks.length - 1]
  const x = (v: number) => left + (Math.max(0, v) / max) * (width - left - right)
  const parts: string[] = [header(spec.id, spec.title, width, height), legend(spec.series, left, 30)]
  for (const t of ticks) {
    parts.push(`<line x1="${round(x(t))}" y1="${top - 4}" x2="${round(x(t))}" y2="${top + plotHeight}" stroke="#ddd"/>`)
    parts.push(
      `<text x="${round(x(t))}" y="${top + plotHeight + 14}" font-size="11" text-anchor="middle" fill="#444">${formatTick(t, ticks)}</text>`,
    )
  }
  parts.push(
    `<text x="${round((left + width - right) / 2)}" y="${height - 6}" font-size="11" text-anchor="middle" fill="#444">${escapeXml(spec.axisLabel)}</text>`,
  )
  spec.groups.forEach((group, g) => {
    const y0 = top + g * groupHeight
    const label = group.label.length > 32 ? `${group.label.slice(0, 31)}…` : group.label
    parts.push(
      `<text x="${left - 8}" y="${round(y0 + (groupHeight - groupGap) / 2 + 4)}" font-size="12" text-anchor="end" fill="#222"><title>${escapeXml(group.label)}</title>${escapeXml(label)}</text>`,
    )
    group.bars.forEach((bar, s) => {
      const y = y0 + s * (barHeight + 2)
      const mid = round(y + barHeight / 2)
      if (bar === null) {
        parts.push(`<text x="${left + 4}" y="${round(y + barHeight - 2)}" font-size="11" fill="#888">–</text>`)
        return
      }
      const colour = PALETTE[s % PALETTE.length]
      parts.push(
        `<rect x="${left}" y="${y}" width="${round(x(bar.value) - left)}" height="${barHeight}" fill="${colour}"><title>${escapeXml(`${spec.series[s]}: ${bar.text}`)}</title></rect>`,
      )
      let end = x(bar.value)
      if (bar.error !== null && bar.error > 0) {
        const lo = round(x(bar.value - bar.error))
        const hi = round(x(bar.value + bar.error))
        parts.push(
          `<path d="M${lo} ${mid}H${hi}M${lo} ${round(y + 3)}V${round(y + barHeight - 3)}M${hi} ${round(y + 3)}V${round(y + barHeight - 3)}" stroke="#222" stroke-width="1.2" fill="none"/>`,
        )
        end = x(bar.value + bar.error)
      }
      parts.push(
        `<text x="${round(end + 5)}" y="${round(y + barHeight - 2)}" font-size="11" fill="#222">${escapeXml(bar.text)}</text>`,
      )
    })
  })
  parts.push(`<line x1="${left}" y1="${top - 4}" x2="${left}" y2="${top + plotHeight}" stroke="#888"/>`)
  parts.push('</svg>')
  return parts.join('')
}

export function lineChart(spec: LineChart): string {
  const width = 440
  const height = 240
  const left = 58
  const right = 14
  const top = spec.series.length > 1 ? 48 : 34
  const bottom = 40
  const points = spec.series.flatMap((s) => s.points)
  const xs = niceTicks(Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0])))
  const ys = niceTicks(Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1])))
  const sx = (v: number) => left + ((v - xs[0]) / (xs[xs.length - 1] - xs[0])) * (width - left - right)
  const sy = (v: number) => height - bottom - ((v - ys[0]) / (ys[ys.length - 1] - ys[0])) * (height - top - bottom)
  const parts: string[] = [header(spec.id, spec.title, width, height)]
  if (spec.series.length > 1)
    parts.push(
      legend(
        spec.series.map((s) => s.label),
        left,
        30,
      ),
    )
  for (const t of ys) {
    parts.push(`<line x1="${left}" y1="${round(sy(t))}" x2="${width - right}" y2="${round(sy(t))}" stroke="#e4e4e4"/>`)
    parts.push(
      `<text x="${left - 6}" y="${round(sy(t) + 4)}" font-size="11" text-anchor="end" fill="#444">${formatTick(t, ys)}</text>`,
    )
  }
  for (const t of xs) {
    parts.push(
      `<text x="${round(sx(t))}" y="${height - bottom + 15}" font-size="11" text-anchor="middle" fill="#444">${formatTick(t, xs)}</text>`,
    )
  }
  parts.push(
    `<rect x="${left}" y="${top}" width="${width - left - right}" height="${height - top - bottom}" fill="none" stroke="#888"/>`,
  )
  parts.push(
    `<text x="${round((left + width - right) / 2)}" y="${height - 6}" font-size="11" text-anchor="middle" fill="#444">${escapeXml(spec.xLabel)}</text>`,
  )
  parts.push(
    `<text x="14" y="${round((top + height - bottom) / 2)}" font-size="11" text-anchor="middle" fill="#444" transform="rotate(-90 14 ${round((top + height - bottom) / 2)})">${escapeXml(spec.yLabel)}</text>`,
  )
  spec.series.forEach((s, i) => {
    const d = s.points.map(([px, py], k) => `${k === 0 ? 'M' : 'L'}${round(sx(px))} ${round(sy(py))}`).join('')
    const colour = PALETTE[i % PALETTE.length]
    parts.push(
      `<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.6"><title>${escapeXml(s.label)}</title></path>`,
    )
    if (s.points.length === 1)
      parts.push(`<circle cx="${round(sx(s.points[0][0]))}" cy="${round(sy(s.points[0][1]))}" r="3" fill="${colour}"/>`)
  })
  parts.push('</svg>')
  return parts.join('')
}

function header(id: string, title: string, width: number, height: number): string {
  const titleId = `${id}-title`
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" id="${escapeXml(id)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${escapeXml(titleId)}" ${FONT}>` +
    `<title id="${escapeXml(titleId)}">${escapeXml(title)}</title>` +
    `<text x="8" y="18" font-size="14" font-weight="600" fill="#111">${escapeXml(title)}</text>`
  )
}

function legend(labels: string[], x0: number, y: number): string {
  let x = x0
  return labels
    .map((label, i) => {
      const item = `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x + 14}" y="${y}" font-size="11" fill="#222">${escapeXml(label)}</text>`
      x += 24 + label.length * 6.5
      return item
    })
    .join('')
}

/** Evenly spaced round ticks (steps of 1, 2 or 5 x 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1
    return niceTicks(lo - pad, hi + pad, count)
  }
  const raw = (hi - lo) / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) as number
  const first = Math.floor(lo / step + 1e-9)
  const last = Math.ceil(hi / step - 1e-9)
  return Array.from({ length: last - first + 1 }, (_, i) => (first + i) * step)
}

function formatTick(value: number, ticks: number[]): string {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9))
  return value.toFixed(Math.min(decimals, 6))
}
