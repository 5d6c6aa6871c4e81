// report.html: one self-contained page (inline CSS and SVG; no scripts, fonts or images from
// anywhere, which its Content-Security-Policy also enforces). Measured cells carry their key as
// data-method / data-task / data-percent / data-protocol attributes.
import type { RunResults } from '../results'
import { buildDocument, reportTitle, type Block } from './document'
import { escapeXml as esc } from './svg'
import { MISSING } from './summary'
import type { Cell, Table } from './tables'

const CSS = `
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #1d1f23; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 28px 64px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #e2e4e8; }
h3 { font-size: 15px; margin: 22px 0 6px; }
nav { font-size: 13px; margin: 8px 0 0; }
nav a { margin-right: 14px; color: #0b5cad; text-decoration: none; }
p.caption, p.note { color: #555; margin: 4px 0; font-size: 13px; }
p.partial { background: #fff6d6; border: 1px solid #efd98a; padding: 6px 10px; border-radius: 4px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #dfe2e6; padding: 4px 7px; text-align: left; vertical-align: top; }
thead th { background: #f0f2f5; font-weight: 600; white-space: nowrap; }
thead tr.groups th { background: #e7ebf0; text-align: center; font-weight: 500; color: #333; }
tbody th { font-weight: 500; background: #fafbfc; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.missing { color: #999; text-align: center; }
td.seen { background: #fde8e4; }
td .n { color: #777; font-size: 11px; }
.legend-seen { display: inline-block; width: 12px; height: 12px; background: #fde8e4; border: 1px solid #e9b8ad; vertical-align: -2px; }
article.claim { border: 1px solid #e2e4e8; border-left-width: 5px; border-radius: 4px; padding: 4px 14px 8px; margin: 12px 0; }
article.claim.holds { border-left-color: #2e8540; }
article.claim.does-not-hold { border-left-color: #c0392b; }
article.claim.not-measured { border-left-color: #9aa0a6; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; margin-right: 6px; }
.badge.holds { background: #2e8540; }
.badge.does-not-hold { background: #c0392b; }
.badge.not-measured { background: #80868b; }
ul.notes { margin: 6px 0 0; padding-left: 20px; color: #444; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.charts figure { margin: 0; border: 1px solid #e2e4e8; border-radius: 4px; padding: 6px; background: #fff; max-width: 100%; overflow-x: auto; }
`.trim()

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

export function renderHtml(results: RunResults): string {
  const blocks = buildDocument(results)
  const nav = blocks
    .filter((b): b is Extract<Block, { type: 'heading' }> => b.type === 'heading' && b.level === 2)
    .map((b) => `<a href="#${esc(b.id)}">${esc(b.text)}</a>`)
    .join('')
  const body = blocks.map((b, i) => (i === 0 ? `${block(b)}<nav>${nav}</nav>` : block(b))).join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(reportTitle(results))}</title>
<style>
${CSS}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`
}

function block(b: Block): string {
  switch (b.type) {
    case 'heading':
      return `<h${b.level} id="${esc(b.id)}">${esc(b.text)}</h${b.level}>`
    case 'paragraph':
      return `<p${b.warning ? ' class="partial"' : ''}>${esc(b.text)}</p>`
    case 'table':
      return table(b.table)
    case 'claim': {
      const status = b.claim.status.replace(/ /g, '-')
      const notes =
        b.claim.notes.length === 0
          ? ''
          : `<ul class="notes">${b.claim.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`
      const comparisons = b.table.rows.length === 0 ? '' : table(b.table)
      return (
        `<article class="claim ${status}" id="claim-${esc(b.claim.id)}" data-status="${esc(b.claim.status)}">` +
        `<h3><span class="badge ${status}">${esc(b.claim.status)}</span>(${esc(b.claim.id)}) ${esc(b.claim.statement)}</h3>` +
        `<p class="note">Decided by: ${esc(b.claim.rule)}.</p>${comparisons}${notes}</article>`
      )
    }
    case 'charts':
      return `<div class="charts">${b.charts.map((c) => `<figure>${c.svg}</figure>`).join('')}</div>`
  }
}

function table(t: Table): string {
  const parts: string[] = [`<section class="table-block" id="${esc(t.id)}">`]
  if (t.title) parts.push(`<h3>${esc(t.title)}</h3>`)
  if (t.caption) parts.push(`<p class="caption">${esc(t.caption)}</p>`)
  parts.push('<div class="scroll"><table><thead>')
  if (t.groups)
    parts.push(
      `<tr class="groups">${t.groups.map((g) => `<th colspan="${g.span}">${esc(g.label)}</th>`).join('')}</tr>`,
    )
  if (t.head.some(Boolean)) parts.push(`<tr>${t.head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr>`)
  parts.push('</thead><tbody>')
  for (const r of t.rows)
    parts.push(
      `<tr>${r.map((c, i) => (i < t.rowHeaders ? `<th scope="row">${esc(c.text)}</th>` : td(c))).join('')}</tr>`,
    )
  parts.push('</tbody></table></div>')
  if (t.rows.some((r) => r.some((c) => c.highlight))) {
    parts.push('<p class="note"><span class="legend-seen"></span> the method was pretrained on that task type.</p>')
  }
  for (const note of t.notes) parts.push(`<p class="note">${esc(note)}</p>`)
  parts.push('</section>')
  return parts.join('')
}

function td(c: Cell): string {
  const classes = [c.key ? 'num' : '', c.text === MISSING ? 'missing' : '', c.highlight ? 'seen' : ''].filter(Boolean)
  const data = c.key
    ? ` data-method="${esc(c.key.method)}" data-task="${esc(c.key.task)}" data-percent="${c.key.percent}" data-protocol="${esc(c.key.protocol)}"`
    : ''
  // the seed count in a smaller grey, without changing the cell's text
  const content = esc(c.text).replace(/ \((n=\d+)\)$/, ' <span class="n">($1)</span>')
  return `<td${classes.length ? ` class="${classes.join(' ')}"` : ''}${data}>${content}</td>`
}
