// A training run's files stay consistent across runs: a resumed run's log drops the steps
// after its checkpoint (they are about to be redone), and a new run moves an earlier run's
// checkpoint and log aside, so it neither appends to them nor leaves them for a later resume.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { atomicWrite } from '../io/atomic'

/** `dir/stem.previous-<n>.ext`. */
function asideName(file: string, n: number): string {
  const ext = path.extname(file)
  return path.join(path.dirname(file), `${path.basename(file, ext)}.previous-${n}${ext}`)
}

/**
 * Renames the files that exist to `<stem>.previous-<n><ext>`, with one n (the smallest free
 * for all of them) so that files of one run keep matching names. Returns [from, to] pairs.
 */
export function moveAside(files: string[]): [string, string][] {
  // Only a run's own regular files move: a log sent to a device or a pipe (/dev/null) stays put.
  const present = files.filter((f) => fs.existsSync(f) && fs.statSync(f).isFile())
  if (present.length === 0) return []
  let n = 1
  while (files.some((f) => fs.existsSync(asideName(f, n)))) n++
  return present.map((f): [string, string] => {
    const to = asideName(f, n)
    fs.renameSync(f, to)
    return [f, to]
  })
}

/** Keeps the JSON lines of `file` whose step is at most `step`; a torn last line goes too. */
export function truncateLog(file: string, step: number): void {
  if (!fs.existsSync(file)) return
  const kept = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => {
      try {
        const s = (JSON.parse(line) as { step?: unknown } | null)?.step
        return typeof s === 'number' && s <= step
      } catch {
        return false
      }
    })
  atomicWrite(file, (write) => write(Buffer.from(kept.map((l) => `${l}\n`).join(''))))
}
