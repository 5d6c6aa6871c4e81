// iv.profile(fn): torch.profiler for this engine. While fn runs, every native kernel call,
// every autograd node's backward rule and every recordFunction range is timed; the result
// holds the spans, one row per op and pass, and the split between kernel time and the rest.
import { isTensor } from '../backend/kernel-calls'
import { profilerHooks } from '../backend/profiler-hooks'
import { shapeStr } from '../tensor/shape'
import { atomicWrite } from '../io/atomic'
import { memoryStats } from '../runtime'
import { Recorder, type ProfileEvent } from './recorder'
import { finishRows, formatTable, type ProfileRow, type ProfileTotals, type TableOptions } from './summary'
import { chromeTrace } from './trace'

export interface ProfileOptions extends TableOptions {
  /** Print the table when fn finishes (default true). */
  print?: boolean
  /** Also write a Chrome trace-event JSON file here (atomically). */
  trace?: string
  /** Keep every span in `events` (default true; a trace keeps them regardless). Rows and
   * totals need no spans kept, which is what a long run wants. */
  keepEvents?: boolean
  /** Record the shapes of each kernel's tensor arguments and give each (op, shapes) a row of
   * its own (torch.profiler's record_shapes with group_by_input_shape); default false. */
  recordShapes?: boolean
}

export interface ProfileResult<T> extends ProfileTotals {
  /** What fn returned (resolved, for an async fn). */
  value: T
  /** One row per (name, pass, kind), and input shapes when recorded, by self time. */
  rows: ProfileRow[]
  /** Every span, in the order they ended; null when keepEvents was false. */
  events: ProfileEvent[] | null
  /** The printed table, with other sorting or row limits. */
  table(opts?: TableOptions): string
}

const OPTION_KEYS = new Set(['print', 'trace', 'keepEvents', 'recordShapes', 'sortBy', 'rowLimit'])
const idleHooks = { ...profilerHooks }
let current: Recorder | null = null

/** Whether a profile is recording now. */
export function isProfiling(): boolean {
  return current !== null
}

// The core kernels take the op as their first argument; the rest are named after their op,
// with a Forward suffix where a Backward kernel pairs with it.
function kernelName(name: string, args: readonly unknown[]): string {
  if ((name === 'unary' || name === 'binary' || name === 'reduce') && typeof args[0] === 'string') return args[0]
  return name.endsWith('Forward') ? name.slice(0, -'Forward'.length) : name
}

/** The shapes of a kernel's tensor arguments, in order: '[64, 3, 32, 32] [64, 3, 3, 3]'. */
function tensorShapes(args: readonly unknown[]): string {
  return args
    .filter(isTensor)
    .map((t) => shapeStr(t.shape))
    .join(' ')
}

function start(keepEvents: boolean, recordShapes: boolean): Recorder {
  const rec = new Recorder(() => memoryStats().bytes, keepEvents)
  current = rec
  profilerHooks.kernel = recordShapes
    ? (name, args, run) => rec.span(kernelName(name, args), 'kernel', run, tensorShapes(args))
    : (name, args, run) => rec.span(kernelName(name, args), 'kernel', run)
  profilerHooks.backwardPass = (run) => rec.span('backward', 'backward', run)
  profilerHooks.backwardNode = (name, run) => rec.span(`${name}.backward`, 'backward', run)
  profilerHooks.allocated = (bytes) => rec.allocated(bytes)
  profilerHooks.active = true
  return rec
}

function stop(): void {
  Object.assign(profilerHooks, idleHooks)
  current = null
}

function checkOptions(options: unknown): ProfileOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new Error(
      `profile: options must be an object {print, trace, keepEvents, recordShapes, sortBy, rowLimit}, got ${Array.isArray(options) ? 'an array' : options === null ? 'null' : typeof options}`,
    )
  for (const key of Object.keys(options))
    if (!OPTION_KEYS.has(key))
      throw new Error(
        `profile: unknown option '${key}' (expected print, trace, keepEvents, recordShapes, sortBy, rowLimit)`,
      )
  const o = options as ProfileOptions
  if (o.trace !== undefined && (typeof o.trace !== 'string' || o.trace === ''))
    throw new Error(`profile: option 'trace' must be a file path, got ${JSON.stringify(o.trace)}`)
  if (o.print !== undefined && typeof o.print !== 'boolean')
    throw new Error(`profile: option 'print' must be a boolean, got ${typeof o.print}`)
  if (o.keepEvents !== undefined && typeof o.keepEvents !== 'boolean')
    throw new Error(`profile: option 'keepEvents' must be a boolean, got ${typeof o.keepEvents}`)
  if (o.recordShapes !== undefined && typeof o.recordShapes !== 'boolean')
    throw new Error(`profile: option 'recordShapes' must be a boolean, got ${typeof o.recordShapes}`)
  if (o.rowLimit !== undefined && (!Number.isInteger(o.rowLimit) || o.rowLimit < 1))
    throw new Error(`profile: option 'rowLimit' must be a positive integer, got ${o.rowLimit}`)
  if (o.sortBy !== undefined && o.sortBy !== 'self' && o.sortBy !== 'total')
    throw new Error(`profile: option 'sortBy' must be 'self' or 'total', got '${String(o.sortBy)}'`)
  return o
}

function finish<T>(rec: Recorder, value: T, options: ProfileOptions): ProfileResult<T> {
  const wallMs = performance.now() - rec.t0
  stop()
  const events = rec.events
  let kernelMs = 0
  let allocatedBytes = rec.unclaimedBytes
  for (const t of rec.totals.values()) {
    if (t.kind === 'kernel') kernelMs += t.totalMs
    allocatedBytes += t.bytes
  }
  const totals: ProfileTotals = {
    wallMs,
    kernelMs,
    outsideKernelsMs: wallMs - kernelMs,
    allocatedBytes,
    peakBytes: rec.peakBytes,
  }
  const rows = finishRows(rec.totals.values(), wallMs)
  const { sortBy, rowLimit } = options
  const result: ProfileResult<T> = {
    value,
    rows,
    events,
    ...totals,
    table: (opts = { sortBy, rowLimit }) => formatTable(rows, totals, opts),
  }
  if (options.trace && events) {
    const json = JSON.stringify(chromeTrace(events))
    atomicWrite(options.trace, (write) => write(Buffer.from(json)))
  }
  if (options.print ?? true) console.log(result.table())
  return result
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  typeof (v as { then?: unknown }).then === 'function'

/**
 * Runs fn (sync or async) with recording on and returns what it measured (for an async fn, a
 * promise of it); prints the table unless `print: false`. Everything this thread runs while
 * fn is pending is recorded, so profile one thing at a time. Profiles do not nest.
 */
export function profile<T>(fn: () => Promise<T>, options?: ProfileOptions): Promise<ProfileResult<T>>
export function profile<T>(fn: () => T, options?: ProfileOptions): ProfileResult<T>
export function profile<T>(
  fn: () => T | Promise<T>,
  options: ProfileOptions = {},
): ProfileResult<T> | Promise<ProfileResult<T>> {
  if (typeof fn !== 'function') throw new Error(`profile: expected a function, got ${fn === null ? 'null' : typeof fn}`)
  const opts = checkOptions(options)
  if (current)
    throw new Error(
      'profile: a profile is already recording (profiles do not nest; label parts of one with recordFunction)',
    )
  const rec = start(opts.keepEvents !== false || opts.trace !== undefined, opts.recordShapes === true)
  let value: T | Promise<T>
  try {
    value = fn()
  } catch (e) {
    stop()
    throw e
  }
  if (isThenable(value))
    return Promise.resolve(value).then(
      (v) => finish(rec, v, opts),
      (e: unknown) => {
        stop()
        throw e
      },
    )
  return finish(rec, value as T, opts)
}

/**
 * Times fn as a named range of the running profile (torch.profiler.record_function), so a
 * step's parts ('forward', 'optimizer.step') get rows of their own; just runs fn otherwise.
 * fn must be synchronous.
 */
export function recordFunction<T>(name: string, fn: () => T): T {
  if (typeof name !== 'string' || name === '')
    throw new Error(`recordFunction: name must be a non-empty string, got ${JSON.stringify(name)}`)
  if (typeof fn !== 'function')
    throw new Error(`recordFunction: expected a function, got ${fn === null ? 'null' : typeof fn}`)
  const value = current ? current.span(name, 'range', fn) : fn()
  if (isThenable(value))
    throw new Error(
      `recordFunction: fn must be synchronous ('${name}' returned a promise; its range would end before its work)`,
    )
  return value
}
