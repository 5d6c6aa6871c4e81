// A profile as Chrome trace-event JSON (chrome://tracing, https://ui.perfetto.dev): one
// complete ("X") event per span, times in microseconds from the start of the profile, the
// forward work on thread 1 and the backward work on thread 2.
import type { ProfileEvent } from './recorder'

export interface TraceEvent {
  name: string
  cat?: string
  ph: 'X' | 'M'
  ts?: number
  dur?: number
  pid: number
  tid: number
  args?: Record<string, unknown>
}

export const FORWARD_TID = 1
export const BACKWARD_TID = 2

export function chromeTrace(
  events: readonly ProfileEvent[],
  pid = process.pid,
): { traceEvents: TraceEvent[]; displayTimeUnit: 'ms' } {
  const thread = (tid: number, name: string): TraceEvent => ({ name: 'thread_name', ph: 'M', pid, tid, args: { name } })
  // Whole nanoseconds on both ends, so a child never pokes out of its parent by a rounding error.
  const ns = (msTime: number) => Math.round(msTime * 1e6)
  const spans = events.map((e): TraceEvent => {
    const start = ns(e.startMs)
    return {
      name: e.name,
      cat: e.kind,
      ph: 'X',
      ts: start / 1000,
      dur: (ns(e.startMs + e.durMs) - start) / 1000,
      pid,
      tid: e.pass === 'backward' ? BACKWARD_TID : FORWARD_TID,
      args: { selfUs: Math.round(e.selfMs * 1e3), bytes: e.bytes, ...(e.shapes !== undefined && { shapes: e.shapes }) },
    }
  })
  return {
    traceEvents: [thread(FORWARD_TID, 'forward'), thread(BACKWARD_TID, 'backward'), ...spans],
    displayTimeUnit: 'ms',
  }
}
