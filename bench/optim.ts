// Optimizer step time on a 10M-parameter float32 set (40 tensors of 250k), ours beside
// PyTorch's CPU optimizers (foreach=False: a loop of per-op kernels; foreach=True: the
// multi-tensor ops) in the same run, same thread count. Medians over timed steps.
//   node --require ts-node/register/transpile-only bench/optim.ts [--steps N]
// (where only the tap fork of ts-node is installed:
//   node --require @isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only bench/optim.ts)
import { spawnSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import * as iv from '../src'
import { AdamW, SGD, type Optimizer } from '../src/optim'

const TENSORS = 40
const NUMEL = 250_000
const argSteps = process.argv.indexOf('--steps')
const STEPS = argSteps > 0 ? Number(process.argv[argSteps + 1]) : 15
const WARMUP = 3
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3'

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each optimizer has its own hyperparameter type
type Config = { name: string; make: (ps: iv.Tensor[]) => Optimizer<any>; torch: string }
const configs: Config[] = [
  {
    name: 'AdamW (lr 1e-3, wd 0.05)',
    make: (ps) => new AdamW(ps, { lr: 1e-3, weightDecay: 0.05 }),
    torch: 'torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.05, foreach=FOREACH)',
  },
  {
    name: 'SGD (momentum 0.9, nesterov, wd 5e-4)',
    make: (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }),
    torch: 'torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4, foreach=FOREACH)',
  },
]

function ours(c: Config): number {
  const ps = Array.from({ length: TENSORS }, () => iv.randn([NUMEL]).requiresGrad_(true))
  for (const p of ps) p.grad = iv.randn([NUMEL]).mul(1e-2)
  const opt = c.make(ps)
  const times: number[] = []
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now()
    opt.step()
    const dt = performance.now() - t0
    if (i >= WARMUP) times.push(dt)
  }
  opt.dispose()
  for (const p of ps) {
    p.grad?.dispose()
    p.dispose()
  }
  return median(times)
}

function torchTimes(c: Config, threads: number): { foreachFalse: number; foreachTrue: number } | string {
  const script = `
import json, statistics, time, torch
torch.set_num_threads(${threads})
torch.manual_seed(0)
out = {}
for FOREACH in (False, True):
    ps = [torch.randn(${NUMEL}, requires_grad=True) for _ in range(${TENSORS})]
    for p in ps: p.grad = torch.randn(${NUMEL}) * 1e-2
    opt = ${c.torch}
    times = []
    for i in range(${WARMUP + STEPS}):
        t0 = time.perf_counter(); opt.step(); dt = (time.perf_counter() - t0) * 1e3
        if i >= ${WARMUP}: times.append(dt)
    out['foreachTrue' if FOREACH else 'foreachFalse'] = statistics.median(times)
print(json.dumps(out))
`
  const r = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' })
  if (r.status !== 0) return `PyTorch run failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`
  return JSON.parse(r.stdout.trim().split('\n').pop() as string)
}

const threads = iv.getNumThreads()
const info = iv.cpuInfo()
console.log(
  `optimizer step, ${TENSORS} x ${NUMEL} float32 = ${(TENSORS * NUMEL) / 1e6}M parameters, ${threads} threads (${info.isa}), median of ${STEPS} steps`,
)
for (const c of configs) {
  const mine = ours(c)
  const t = torchTimes(c, threads)
  if (typeof t === 'string') {
    console.log(`${c.name.padEnd(40)} intern-vision ${mine.toFixed(1)} ms   ${t}`)
    continue
  }
  const best = Math.min(t.foreachFalse, t.foreachTrue)
  console.log(
    `${c.name.padEnd(40)} intern-vision ${mine.toFixed(1).padStart(6)} ms | torch foreach=False ${t.foreachFalse.toFixed(1).padStart(6)} ms` +
      ` | foreach=True ${t.foreachTrue.toFixed(1).padStart(6)} ms | speedup vs torch's best ${(best / mine).toFixed(2)}x`,
  )
}
