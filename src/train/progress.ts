// Progress reporting for training loops: a live line with rate and ETA on a terminal, plain
// log lines elsewhere (CI logs, files), and every record appended to a JSONL file.
import { appendLine } from '../io/file-errors'

export interface ProgressOptions {
  total?: number
  /** Plain-line interval in steps when not on a TTY. */
  every?: number
  /** Where records go as JSON lines (appended). */
  jsonlPath?: string
  stream?: NodeJS.WriteStream
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s % 60}s`
}

export class Progress {
  private readonly started = Date.now()
  private readonly startStep: number
  private readonly stream: NodeJS.WriteStream
  private readonly tty: boolean
  private lastLine = 0

  constructor(
    private readonly opts: ProgressOptions,
    startStep = 0,
  ) {
    this.startStep = startStep
    this.stream = opts.stream ?? process.stderr
    this.tty = Boolean(this.stream.isTTY)
  }

  /** Records one step: `values` go to the JSONL file and, summarised, to the display. */
  update(step: number, values: Record<string, number | string>): void {
    const elapsed = (Date.now() - this.started) / 1000
    const rate = (step - this.startStep) / Math.max(elapsed, 1e-9)
    if (this.opts.jsonlPath)
      appendLine('fit (log.jsonlPath)', this.opts.jsonlPath, JSON.stringify({ step, time: elapsed, ...values }) + '\n')
    const total = this.opts.total
    const eta = total ? (total - step) / rate : NaN
    const shown = Object.entries(values)
      .map(
        ([k, v]) =>
          `${k} ${typeof v !== 'number' || Number.isInteger(v) ? v : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(4)}`,
      )
      .join('  ')
    const line = `step ${step}${total ? `/${total}` : ''}  ${shown}  ${rate.toFixed(2)} it/s${total ? `  ETA ${formatDuration(eta)}` : ''}`
    if (this.tty) {
      this.stream.write(`\r${line}\x1b[K`)
      this.lastLine = step
    } else if (step - this.lastLine >= (this.opts.every ?? 50) || step === total) {
      this.stream.write(line + '\n')
      this.lastLine = step
    }
  }

  done(): void {
    if (this.tty) this.stream.write('\n')
  }
}
