// A stage's log.jsonl: one JSON line per optimizer step. A run resumed after a kill replays the
// steps after its last checkpoint, so its first line first drops the lines of those steps (and
// a line the kill tore): the file always reads as one uninterrupted run, and `seconds` counts
// training time across every run that contributed to it.
import * as fs from 'node:fs'
import { atomicWrite } from '../io/atomic'
import { appendLine } from '../io/file-errors'

export type LogRecord = { step: number; seconds: number } & Record<string, number>

/** The whole lines of a log (a torn last line is left out); [] when there is no file. */
export function readStageLog(file: string): LogRecord[] {
  if (!fs.existsSync(file)) return []
  const out: LogRecord[] = []
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue
    try {
      out.push(JSON.parse(line) as LogRecord)
    } catch {
      // only the last line can be torn (appends are sequential); it is rewritten on replay
    }
  }
  return out
}

export class StageLog {
  readonly #started = Date.now()
  #base: number | null = null

  constructor(readonly file: string) {}

  write(record: { step: number } & Record<string, number>): void {
    this.#base ??= this.#rewind(record.step)
    const line: LogRecord = { ...record, seconds: this.#base + (Date.now() - this.#started) / 1000 }
    appendLine('StageLog.write', this.file, JSON.stringify(line) + '\n')
  }

  /** Keeps the lines before `step`; returns the training seconds they account for. */
  #rewind(step: number): number {
    const kept = readStageLog(this.file).filter((r) => r.step < step)
    const text = kept.map((r) => JSON.stringify(r) + '\n').join('')
    atomicWrite(this.file, (write) => write(Buffer.from(text)))
    return kept.length > 0 ? kept[kept.length - 1].seconds : 0
  }
}
