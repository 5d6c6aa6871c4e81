// `--profile [trace.json]` on the commands that train or evaluate: the command runs under
// profile(), its table goes to stderr (stdout stays the command's), and a path after the flag
// also gets the Chrome trace. node:util's parseArgs has no optional values, so the flag is
// taken out of argv before the command parses the rest.
import { profile } from './profile'

export interface ProfileFlag {
  /** Where to write the Chrome trace, if anywhere. */
  trace?: string
}

/** The flag's lines for a command's usage text, its descriptions starting at `column`. */
export function profileUsage(column: number): string {
  return [
    `  ${'--profile [PATH]'.padEnd(column - 3)} print a per-op profile (time, calls, memory) to stderr at the end;`,
    `${' '.repeat(column)}with PATH also write a Chrome trace (chrome://tracing, ui.perfetto.dev)`,
  ].join('\n')
}

/** argv without `--profile [PATH]` / `--profile=PATH`, and whether it was there. */
export function takeProfileFlag(argv: readonly string[]): { argv: string[]; profile: ProfileFlag | null } {
  const rest: string[] = []
  let flag: ProfileFlag | null = null
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--profile') {
      const next = argv[i + 1]
      flag = next !== undefined && !next.startsWith('-') ? { trace: argv[++i] } : {}
    } else if (a.startsWith('--profile=')) {
      const trace = a.slice('--profile='.length)
      if (trace === '') throw new Error('--profile=: expected a trace file path after =')
      flag = { trace }
    } else rest.push(a)
  }
  return { argv: rest, profile: flag }
}

/** Runs a command's work, under profile() when the flag asked for it. */
export async function profiled<T>(flag: ProfileFlag | null, fn: () => Promise<T>): Promise<T> {
  if (!flag) return fn()
  // A whole command makes millions of spans: keep them only for a trace.
  const result = await profile(fn, { print: false, trace: flag.trace, keepEvents: false })
  console.error(result.table())
  if (flag.trace) console.error(`profile: trace written to ${flag.trace}`)
  return result.value
}
