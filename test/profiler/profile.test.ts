import t from 'tap'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../../src'
import { profilerHooks } from '../../src/backend/profiler-hooks'
import type { ProfileEvent, ProfileResult } from '../../src/profiler'

const quiet = { print: false } as const

function row(r: ProfileResult<unknown>, name: string, pass: 'forward' | 'backward', kind = 'kernel') {
  return r.rows.find((x) => x.name === name && x.pass === pass && x.kind === kind)
}

/** The spans as a forest by interval containment: each event with the events directly inside it. */
function forest(events: readonly ProfileEvent[]) {
  const end = (e: ProfileEvent) => e.startMs + e.durMs
  const sorted = [...events].sort((a, b) => a.startMs - b.startMs || end(b) - end(a))
  const children = new Map<ProfileEvent, ProfileEvent[]>(sorted.map((e) => [e, []]))
  const roots: ProfileEvent[] = []
  const stack: ProfileEvent[] = []
  for (const e of sorted) {
    while (stack.length && end(stack[stack.length - 1]) <= e.startMs) stack.pop()
    const parent = stack[stack.length - 1]
    if (parent) {
      if (end(e) > end(parent) + 1e-9) throw new Error(`${e.name} overlaps ${parent.name} without nesting`)
      children.get(parent)!.push(e)
    } else roots.push(e)
    stack.push(e)
  }
  return { roots, children }
}

// loss = sum(((a @ b + c) @ c + a) @ b): 3 matmuls and 2 adds, every input a leaf needing grad.
function step(a: iv.Tensor, b: iv.Tensor, c: iv.Tensor): number {
  const loss = a.matmul(b).add(c).matmul(c).add(a).matmul(b).sum()
  loss.backward()
  return loss.item()
}

t.test('counts of a hand-built forward and backward are exact', (t) => {
  const [a, b, c] = [0, 1, 2].map(() => iv.randn([8, 8]).requiresGrad_())
  step(a, b, c) // warm up, so the profiled run is a steady one
  for (const p of [a, b, c]) p.grad = null
  const r = iv.profile(() => step(a, b, c), quiet)
  t.equal(row(r, 'matmul', 'forward')?.calls, 3)
  t.equal(row(r, 'add', 'forward')?.calls, 2)
  t.equal(row(r, 'sum', 'forward')?.calls, 1)
  t.equal(row(r, 'matmul.backward', 'backward', 'backward')?.calls, 3)
  t.equal(row(r, 'add.backward', 'backward', 'backward')?.calls, 2)
  t.equal(row(r, 'sum.backward', 'backward', 'backward')?.calls, 1)
  t.equal(row(r, 'backward', 'backward', 'backward')?.calls, 1)
  // Each matmul's rule multiplies twice (both of its inputs need a gradient).
  t.equal(row(r, 'matmul', 'backward')?.calls, 6)
  // Outputs: every forward matmul and add allocates one [8, 8] float32 result.
  t.equal(row(r, 'matmul', 'forward')?.bytes, 3 * 64 * 4)
  t.equal(row(r, 'add', 'forward')?.bytes, 2 * 64 * 4)
  t.ok(r.peakBytes > 0)
  // The same forward under noGrad records no backward at all.
  const f = iv.profile(() => iv.noGrad(() => a.matmul(b).add(c).matmul(c).add(a).matmul(b).sum()), quiet)
  t.equal(row(f, 'matmul', 'forward')?.calls, 3)
  t.equal(f.rows.filter((x) => x.pass === 'backward').length, 0)
  t.end()
})

t.test('memory: bytes allocated and the peak of live tensor memory', (t) => {
  const before = iv.memoryStats().bytes
  const r = iv.profile(() => {
    const x = iv.zeros([2 ** 20])
    x.dispose()
    iv.zeros([2 ** 18]).dispose()
  }, quiet)
  t.equal(r.allocatedBytes, 4 * (2 ** 20 + 2 ** 18))
  t.equal(row(r, 'fill', 'forward')?.bytes, r.allocatedBytes, 'each output goes to the kernel that fills it')
  // The larger tensor on top of what was live (which the GC may only lower); the first is freed
  // before the second is made.
  t.ok(
    r.peakBytes >= 4 * 2 ** 20 && r.peakBytes <= before + 4 * 2 ** 20,
    `peak ${r.peakBytes} vs ${before} live before`,
  )
  t.end()
})

t.test('self <= total, and the times add up to the wall time', (t) => {
  const [a, b, c] = [0, 1, 2].map(() => iv.randn([32, 32]).requiresGrad_())
  const r = iv.profile(() => iv.recordFunction('step', () => step(a, b, c)), quiet)
  for (const x of r.rows) {
    t.ok(x.selfMs >= 0 && x.selfMs <= x.totalMs + 1e-9, `${x.name} ${x.pass}: self ${x.selfMs} <= total ${x.totalMs}`)
    if (x.kind === 'kernel') t.equal(x.selfMs, x.totalMs, `${x.name}: a kernel has no children`)
    t.ok(Math.abs(x.meanMs * x.calls - x.totalMs) < 1e-9)
  }
  const events = r.events!
  const { roots, children } = forest(events)
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0)
  for (const e of events) {
    const inside = sum(children.get(e)!.map((c) => c.durMs))
    t.ok(Math.abs(e.selfMs - Math.max(0, e.durMs - inside)) < 1e-9, `${e.name}: self = duration less children`)
  }
  // Self times telescope: their sum is the time covered by the outermost spans.
  const selfSum = sum(r.rows.map((x) => x.selfMs))
  const covered = sum(roots.map((e) => e.durMs))
  t.ok(Math.abs(selfSum - covered) < 1e-6, `sum of self ${selfSum} = outermost spans ${covered}`)
  t.ok(covered <= r.wallMs, 'the spans fit in the wall time')
  t.equal(roots.length, 1, 'one user range holds everything')
  t.ok(Math.abs(r.kernelMs - sum(r.rows.filter((x) => x.kind === 'kernel').map((x) => x.totalMs))) < 1e-9)
  t.ok(Math.abs(r.kernelMs + r.outsideKernelsMs - r.wallMs) < 1e-9)
  t.end()
})

t.test('nested ops are attributed to the innermost span', (t) => {
  const a = iv.randn([16, 16])
  const b = iv.randn([16, 16])
  const r = iv.profile(() => {
    iv.recordFunction('outer', () => {
      iv.recordFunction('inner', () => a.matmul(b))
      return a.add(b)
    })
  }, quiet)
  const ev = (name: string) => r.events!.find((e) => e.name === name)!
  const { children } = forest(r.events!)
  t.same(
    children.get(ev('outer'))!.map((e) => e.name),
    ['inner', 'add'],
  )
  t.same(
    children.get(ev('inner'))!.map((e) => e.name),
    ['matmul'],
  )
  const outer = row(r, 'outer', 'forward', 'range')!
  const inner = row(r, 'inner', 'forward', 'range')!
  const matmul = row(r, 'matmul', 'forward')!
  const add = row(r, 'add', 'forward')!
  t.ok(Math.abs(outer.selfMs - (outer.totalMs - inner.totalMs - add.totalMs)) < 1e-9)
  t.ok(Math.abs(inner.selfMs - (inner.totalMs - matmul.totalMs)) < 1e-9)
  // A backward rule holds the kernels it runs, and they count as backward work.
  const x = iv.randn([4, 4]).requiresGrad_()
  const g = iv.profile(() => x.matmul(x).sum().backward(), quiet)
  const node = g.events!.find((e) => e.name === 'matmul.backward')!
  const inNode = forest(g.events!).children.get(node)!
  t.equal(inNode.filter((e) => e.name === 'matmul').length, 2, 'its two products')
  t.ok(inNode.every((e) => e.kind === 'kernel' && e.pass === 'backward'))
  t.end()
})

t.test('the Chrome trace parses, has one event per span and nests', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-profile-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'trace.json')
  const [a, b, c] = [0, 1, 2].map(() => iv.randn([8, 8]).requiresGrad_())
  const r = iv.profile(() => iv.recordFunction('step', () => step(a, b, c)), { ...quiet, trace: file })
  const trace = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    traceEvents: { ph: string; ts: number; dur: number; tid: number; name: string; cat: string }[]
  }
  const spans = trace.traceEvents.filter((e) => e.ph === 'X')
  t.equal(spans.length, r.events!.length)
  t.same(spans.map((e) => e.name).sort(), r.events!.map((e) => e.name).sort())
  t.ok(spans.every((e) => e.dur >= 0 && e.ts >= 0))
  t.ok(
    spans.filter((e) => e.cat === 'backward').every((e) => e.tid === 2),
    'backward work on its own thread',
  )
  t.ok(spans.filter((e) => e.name === 'step').every((e) => e.tid === 1))
  for (const tid of [1, 2]) {
    const open: { end: number; name: string }[] = []
    for (const e of spans.filter((x) => x.tid === tid).sort((x, y) => x.ts - y.ts || y.dur - x.dur)) {
      while (open.length && open[open.length - 1].end <= e.ts) open.pop()
      const parent = open[open.length - 1]
      if (parent) t.ok(e.ts + e.dur <= parent.end, `${e.name} inside ${parent.name}`)
      open.push({ end: e.ts + e.dur, name: e.name })
    }
  }
  t.same(fs.readdirSync(dir), ['trace.json'], 'no temporary file left beside it')
  t.end()
})

t.test('a throwing fn re-throws and leaves recording off', async (t) => {
  const a = iv.randn([4])
  t.throws(
    () =>
      iv.profile(() => {
        a.add(a)
        throw new Error('boom')
      }, quiet),
    /boom/,
  )
  t.equal(iv.isProfiling(), false)
  t.equal(profilerHooks.active, false)
  await t.rejects(
    iv.profile(async () => {
      a.add(a)
      await new Promise((r) => setTimeout(r, 1))
      throw new Error('later')
    }, quiet),
    /later/,
  )
  t.equal(iv.isProfiling(), false)
  t.equal(profilerHooks.active, false)
  // A later profile starts from nothing.
  const r = iv.profile(() => a.mul(a), quiet)
  t.same(
    r.rows.map((x) => x.name),
    ['mul'],
  )
})

t.test('an async fn is profiled to its end', async (t) => {
  const a = iv.randn([4])
  const r = await iv.profile(async () => {
    a.add(a)
    await new Promise((res) => setTimeout(res, 1))
    return a.mul(a).sum().item()
  }, quiet)
  t.same(r.rows.map((x) => x.name).sort(), ['add', 'mul', 'sum'])
  t.equal(typeof r.value, 'number')
})

t.test('outside a profile nothing records and the hooks are idle', (t) => {
  const a = iv.randn([4]).requiresGrad_()
  iv.profile(() => a.add(a), quiet)
  t.equal(profilerHooks.active, false)
  t.equal(iv.isProfiling(), false)
  // The idle hooks hold no recorder: calling them records nothing anywhere.
  const r = iv.profile(() => 0, quiet)
  a.mul(a).sum().backward()
  t.same(r.rows, [])
  t.equal(
    iv.recordFunction('x', () => 7),
    7,
  )
  t.end()
})

t.test('recordShapes: a row per op and input shapes, in the table and the trace', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-profile-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'trace.json')
  const [small, large, row] = [iv.randn([2, 3]), iv.randn([4, 5]), iv.randn([5])]
  const work = () => {
    small.add(small)
    small.add(small)
    large.add(large)
    large.add(row) // a broadcast operand reaches the kernel expanded to the output's shape
  }
  const r = iv.profile(work, { ...quiet, recordShapes: true, trace: file })
  const adds = r.rows.filter((x) => x.name === 'add')
  t.same(
    adds.map((x) => [x.shapes, x.calls]).sort(),
    [
      ['[2, 3] [2, 3] [2, 3]', 2],
      ['[4, 5] [4, 5] [4, 5]', 2],
    ],
    'out, a, b shapes; calls grouped by them',
  )
  t.match(r.table(), /Input shapes\n/)
  t.match(r.table(), /\nadd\s+forward\s+kernel\s+2 .*\[4, 5\] \[4, 5\] \[4, 5\]\n/)
  const trace = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    traceEvents: { name: string; args?: { shapes?: string } }[]
  }
  t.same(
    trace.traceEvents.filter((e) => e.name === 'add').map((e) => e.args?.shapes),
    ['[2, 3] [2, 3] [2, 3]', '[2, 3] [2, 3] [2, 3]', '[4, 5] [4, 5] [4, 5]', '[4, 5] [4, 5] [4, 5]'],
  )
  const plain = iv.profile(work, quiet)
  t.same(
    plain.rows.filter((x) => x.name === 'add').map((x) => [x.calls, x.shapes]),
    [[4, undefined]],
    'without it, one row per op',
  )
  t.notMatch(plain.table(), /Input shapes/)
  t.throws(
    () => iv.profile(() => 0, { recordShapes: 'yes' } as never),
    /profile: option 'recordShapes' must be a boolean, got string/,
  )
  t.end()
})

t.test('the table and bad input', (t) => {
  const a = iv.randn([4])
  const r = iv.profile(() => a.add(a).exp(), quiet)
  const table = r.table()
  t.match(table, /Name\s+Pass\s+Kind\s+Calls\s+Self ms/)
  t.match(table, /\nadd\s+forward\s+kernel\s+1 /)
  t.match(table, /Wall time [\d.]+ ms: [\d.]+ ms \([\d.]+%\) inside kernels/)
  t.equal(
    r
      .table({ rowLimit: 1 })
      .split('\n')
      .filter((l) => /forward/.test(l)).length,
    1,
  )
  t.throws(() => iv.profile(42 as never), /profile: expected a function, got number/)
  t.throws(() => iv.profile(() => 0, { trce: 'x' } as never), /profile: unknown option 'trce'/)
  t.throws(() => iv.profile(() => 0, { trace: '' }), /profile: option 'trace' must be a file path/)
  t.throws(() => iv.profile(() => 0, { rowLimit: 0 }), /profile: option 'rowLimit' must be a positive integer/)
  t.throws(() => iv.profile(() => iv.profile(() => 0, quiet), quiet), /profile: a profile is already recording/)
  t.equal(iv.isProfiling(), false)
  t.throws(() => iv.recordFunction('', () => 0), /recordFunction: name must be a non-empty string/)
  t.throws(() => iv.recordFunction('a', (async () => 0) as never), /recordFunction: fn must be synchronous/)
  t.end()
})
