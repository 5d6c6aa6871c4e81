// Host transfers and the fixed cost of one op. data() (tensor -> TypedArray) and fromHost
// (iv.tensor(typedArray)) in GB/s beside plain TypedArray copies in the same run: one into a
// new array (which pays for fresh pages) and one into a reused array (the memcpy alone).
// Then the time of one add of two [1] tensors, timed in batches, beside PyTorch's
// `a + b` timed the same way, and the same while iv.profile records.
//   npx tsx bench/transfer.ts          (also a section of npm run bench)
import * as iv from '../src'
import { cpuBackend } from '../src/backend/cpu'
import { describe, describePacked } from '../src/backend/kernel-calls'
import { native, type Descriptor } from '../src/backend/native'
import { Tensor } from '../src/tensor/tensor'
import { hasTorch, median, printTable, torchRun } from './util'

iv.setNumThreads(2)

const ns = () => Number(process.hrtime.bigint())

/** Median ms of each fn over `runs` rounds after `warmup`. The fns take turns within a round:
 * run one after another, the first would pay for growing the heap and the rest reuse it. */
function medianMs(fns: (() => void)[], runs = 15, warmup = 3): number[] {
  const ts = fns.map((): number[] => [])
  for (let r = 0; r < warmup + runs; r++)
    fns.forEach((fn, k) => {
      const t0 = ns()
      fn()
      if (r >= warmup) ts[k].push((ns() - t0) / 1e6)
    })
  return ts.map(median)
}

const gbps = (bytes: number, ms: number) => bytes / ms / 1e6

const sizes = [2 ** 18, 4 * 2 ** 20, 16 * 2 ** 20]
const rows: (string | number)[][] = []
const torchSide = torchRun<Record<string, number>>(`
out = {}
for n in [${sizes.join(', ')}]:
    x = torch.randn(n)
    a = x.numpy().copy()
    cases = {'numpy copy': lambda: x.numpy().copy(), 'from numpy': lambda: torch.tensor(a), 'clone': lambda: x.clone()}
    ts = {k: [] for k in cases}
    for r in range(18):
        for k, fn in cases.items():
            t0 = time.perf_counter(); fn(); t = time.perf_counter() - t0
            if r >= 3: ts[k].append(t * 1e3)
    for k in cases: out[f'{k} {n}'] = statistics.median(ts[k])
print(json.dumps(out))
`)
for (const n of sizes) {
  const bytes = n * 4
  const x = iv.randn([n])
  const host = x.data() as Float32Array
  const reused = new Float32Array(n)
  const cases: [string, () => void, string | null][] = [
    ['data()', () => void x.data(), `numpy copy ${n}`],
    ['fromHost: iv.tensor(Float32Array)', () => iv.tensor(host).dispose(), `from numpy ${n}`],
    ['new Float32Array(n).set(src)', () => void new Float32Array(n).set(host), `clone ${n}`],
    ['reused.set(src)', () => reused.set(host), null],
  ]
  // Steady state, as in a loop that reads a tensor out every step: V8 frees dropped arrays in
  // a GC that about 64 MB of them trigger, and data() reuses their memory from then on.
  const times = medianMs(
    cases.map(([, fn]) => fn),
    15,
    Math.max(3, Math.ceil((256 * 2 ** 20) / bytes)),
  )
  for (const [k, [name, , torchKey]] of cases.entries()) {
    const ms = times[k]
    const torchMs = torchKey && torchSide ? torchSide[torchKey] : NaN
    rows.push([
      `${name} [${n}]`,
      ms,
      gbps(bytes, ms),
      torchKey ? torchKey.replace(/ \d+$/, '') : '-',
      torchMs,
      gbps(bytes, torchMs),
    ])
  }
  x.dispose()
}
printTable(
  'Host transfers, float32 (median ms; GB/s of the tensor bytes)',
  ['case', 'ms', 'GB/s', 'PyTorch case', 'PyTorch ms', 'PyTorch GB/s'],
  rows,
)

// One op's fixed cost: argument checks, output allocation, N-API, the kernel, the Tensor.
// Timed in batches of 100 calls (two clock reads per call would cost more than PyTorch's op),
// median over batches of the mean per call; PyTorch's side is timed the same way.
const batches = 200
const batch = 100
const a = iv.randn([1])
const b = iv.randn([1])
/** Median microseconds per call of fn, over `batches` batches after 20 unmeasured ones. */
function perCallUs(fn: () => void): number {
  const perCall: number[] = []
  for (let i = 0; i < batches + 20; i++) {
    const t0 = ns()
    for (let k = 0; k < batch; k++) fn()
    const t1 = ns()
    if (i >= 20) perCall.push((t1 - t0) / 1e3 / batch)
  }
  return median(perCall)
}
const tinyAddUs = () => perCallUs(() => iv.add(a, b).dispose())
const torchOp = torchRun<number>(`
a, b = torch.randn(1), torch.randn(1)
ts = []
for i in range(${batches + 20}):
    t0 = time.perf_counter_ns()
    for k in range(${batch}): y = a + b
    t1 = time.perf_counter_ns()
    if i >= 20: ts.append((t1 - t0) / 1e3 / ${batch})
print(json.dumps(statistics.median(ts)))
`)
const oursUs = tinyAddUs()
// The same loop while iv.profile records (what a profile adds to each op).
const profiledUs = iv.profile(tinyAddUs, { print: false, keepEvents: false }).value
printTable(
  `Fixed cost of one op: add of two [1] tensors (microseconds per call, median of ${batches} batches of ${batch})`,
  ['intern-vision us', 'PyTorch us', 'PyTorch / ours', 'intern-vision profiled us'],
  [[oursUs, torchOp ?? NaN, torchOp ? torchOp / oursUs : NaN, profiledUs]],
)

// Where an op's time goes: the native call alone (descriptors made once: the classic form,
// and the flat handle + packed layout the CPU backend sends), the backend call, and the
// output's allocation and release through the CPU backend.
const out = Tensor.empty([1])
const [da, db, dout] = [a, b, out].map((t) => describe(t) as Descriptor)
const [[ha, la], [hb, lb], [hout, lout]] = [a, b, out].map(describePacked)
const binary = native.binary as (...args: unknown[]) => void
printTable(
  'Parts of that op (median microseconds)',
  ['part', 'us'],
  [
    ['native binary add, classic descriptors ready', perCallUs(() => native.binary('add', dout, da, db, 1))],
    ['native binary add, flat descriptors ready', perCallUs(() => binary('add', hout, lout, ha, la, hb, lb, 1))],
    ['cpuBackend.binary (packs the cached layouts)', perCallUs(() => cpuBackend.binary('add', out, a, b))],
    ['allocate + release a 4-byte block', perCallUs(() => cpuBackend.allocate(4).release())],
    ['allocate + release a 64 KiB block (cached size)', perCallUs(() => cpuBackend.allocate(65536).release())],
  ],
)
if (!hasTorch) console.log('(PyTorch not importable: its columns are empty)')
