// report.md: the report's blocks as GitHub-flavoured Markdown (charts live in report.html).
import type { RunResults } from '../results'
import { buildDocument, type Block } from './document'
import type { Cell, Table } from './tables'

export function renderMarkdown(results: RunResults): string {
  return buildDocument(results).map(block).join('\n\n') + '\n'
}

function block(b: Block): string {
  switch (b.type) {
    case 'heading':
      return `${'#'.repeat(b.level)} ${b.text}`
    case 'paragraph':
      return b.text
    case 'table':
      return table(b.table)
    case 'claim': {
      const lines = [`### (${b.claim.id}) ${b.claim.status}`, '', b.claim.statement, '', `Decided by: ${b.claim.rule}.`]
      if (b.table.rows.length > 0) lines.push('', table(b.table))
      for (const note of b.claim.notes) lines.push('', `- ${note}`)
      return lines.join('\n')
    }
    case 'charts':
      return `_${b.charts.length === 1 ? 'A chart' : `${b.charts.length} charts`} in report.html: ${b.charts.map((c) => c.title).join('; ')}._`
  }
}

function table(t: Table): string {
  const lines: string[] = []
  if (t.title) lines.push(`### ${t.title}`, '')
  if (t.caption) lines.push(t.caption, '')
  lines.push(row(t.head), row(t.head.map(() => '---')))
  for (const r of t.rows) lines.push(row(r.map(cell)))
  if (t.groups?.some((g) => g.label)) {
    let at = 0
    const groups = t.groups.map((g) => {
      const columns = t.head.slice(at, at + g.span).join(', ')
      at += g.span
      return g.label ? `${g.label}: ${columns}` : ''
    })
    lines.push('', `Column groups: ${groups.filter(Boolean).join('; ')}.`)
  }
  if (t.rows.some((r) => r.some((c) => c.highlight)))
    lines.push('', 'Bold: the method was pretrained on that task type.')
  for (const note of t.notes) lines.push('', note)
  return lines.join('\n')
}

function cell(c: Cell): string {
  return c.highlight ? `**${c.text}**` : c.text
}

function row(cells: string[]): string {
  return `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`
}
