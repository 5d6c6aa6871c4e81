// The spans of one profile. Spans nest (a backward node holds the kernels its rule runs, a
// user range holds whatever runs inside it), so each span's self time is its duration less
// its children's. Tensor memory allocated by the op layer goes to the next kernel call, which
// is the one it was allocated for: an op allocates its outputs and then runs its kernel.

/** What a span measures: one native kernel call, one autograd node's backward rule, or a
 * range the user named with recordFunction. */
export type SpanKind = 'kernel' | 'backward' | 'range'
export type Pass = 'forward' | 'backward'

export interface ProfileEvent {
  name: string
  kind: SpanKind
  /** 'backward' for backward nodes and everything that runs inside one. */
  pass: Pass
  /** Milliseconds from the start of the profile. */
  startMs: number
  durMs: number
  /** durMs less the durations of the spans directly inside it. */
  selfMs: number
  /** Bytes of tensor memory allocated for this span (outputs, for a kernel). */
  bytes: number
  /** The shapes of a kernel's tensor arguments, in order, when the profile records shapes. */
  shapes?: string
}

/** The spans of one (kind, pass, name), and shapes where recorded, summed. */
export interface SpanTotals {
  name: string
  kind: SpanKind
  pass: Pass
  shapes?: string
  calls: number
  totalMs: number
  selfMs: number
  bytes: number
}

interface OpenSpan {
  event: ProfileEvent
  childMs: number
}

export class Recorder {
  /** Every span, in the order they ended (kept only when asked: a long run makes millions). */
  readonly events: ProfileEvent[] | null
  /** The spans summed per (kind, pass, name). */
  readonly totals = new Map<string, SpanTotals>()
  readonly t0 = performance.now()
  /** Live tensor memory at the start, raised by every allocation made while recording. */
  peakBytes: number
  private readonly stack: OpenSpan[] = []
  private backwardDepth = 0
  private pendingBytes = 0

  constructor(
    private readonly liveBytes: () => number,
    keepEvents: boolean,
  ) {
    this.events = keepEvents ? [] : null
    this.peakBytes = liveBytes()
  }

  span<T>(name: string, kind: SpanKind, run: () => T, shapes?: string): T {
    const pass: Pass = kind === 'backward' || this.backwardDepth > 0 ? 'backward' : 'forward'
    const event: ProfileEvent = { name, kind, pass, startMs: 0, durMs: 0, selfMs: 0, bytes: 0 }
    if (shapes !== undefined) event.shapes = shapes
    if (kind === 'kernel') event.bytes = this.takePending()
    else this.flushPending()
    const open: OpenSpan = { event, childMs: 0 }
    this.stack.push(open)
    if (kind === 'backward') this.backwardDepth++
    const start = performance.now()
    try {
      return run()
    } finally {
      const end = performance.now()
      if (kind !== 'kernel') this.flushPending()
      this.stack.pop()
      if (kind === 'backward') this.backwardDepth--
      event.startMs = start - this.t0
      event.durMs = end - start
      event.selfMs = Math.max(0, event.durMs - open.childMs)
      const parent = this.stack[this.stack.length - 1]
      if (parent) parent.childMs += event.durMs
      this.add(event)
    }
  }

  private add(e: ProfileEvent): void {
    this.events?.push(e)
    const key = `${e.kind}\u0000${e.pass}\u0000${e.name}\u0000${e.shapes ?? ''}`
    let t = this.totals.get(key)
    if (!t) {
      t = { name: e.name, kind: e.kind, pass: e.pass, calls: 0, totalMs: 0, selfMs: 0, bytes: 0 }
      if (e.shapes !== undefined) t.shapes = e.shapes
      this.totals.set(key, t)
    }
    t.calls++
    t.totalMs += e.durMs
    t.selfMs += e.selfMs
    t.bytes += e.bytes
  }

  allocated(bytes: number): void {
    this.pendingBytes += bytes
    // Memory only grows at an allocation, so the largest live count right after one is the peak.
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes() + bytes)
  }

  /** Bytes allocated since the last span boundary and claimed by no kernel. */
  get unclaimedBytes(): number {
    return this.pendingBytes
  }

  private takePending(): number {
    const b = this.pendingBytes
    this.pendingBytes = 0
    return b
  }

  // Memory a range or backward rule allocated that no kernel claimed is that span's own.
  private flushPending(): void {
    const top = this.stack[this.stack.length - 1]
    if (top) top.event.bytes += this.takePending()
  }
}
