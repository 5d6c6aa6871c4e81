// What each rank runs in the distributed tests (started by mpirun through ./mpirun.ts), and the
// same training run for one process, which the tests call in-process as the reference.
//   worker.ts train <outDir> <maxSteps> <checkpointEvery> <resume 0|1> [cpu|cuda]
//   worker.ts collectives <outDir>
//   worker.ts fault <outDir> <throw|kill|stall>
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as iv from '../../src'
import { Conv2d, LayerNorm, Linear, Module, BatchNorm2d } from '../../src/nn'
import { AdamW, SGD } from '../../src/optim'

const { distributed } = iv

export const N = 48
/** The global batch: each of R ranks takes GLOBAL_BATCH / R samples per step. */
export const GLOBAL_BATCH = 12
export const EPOCHS = 2

class Net extends Module {
  conv = new Conv2d(3, 8, 3, { padding: 1 })
  norm = new LayerNorm(8)
  head = new Linear(8, 5)
  override forward(x: iv.Tensor): iv.Tensor {
    const h = (this.conv.forward(x) as iv.Tensor).gelu().mean([2, 3])
    return this.head.forward(this.norm.forward(h) as iv.Tensor) as iv.Tensor
  }
}

const data = (() => {
  const g = new iv.Generator(7)
  return { x: iv.keep(iv.randn([N, 3, 6, 6], { generator: g })), y: iv.keep(iv.randint(0, 5, [N], { generator: g })) }
})()

export interface TrainOptions {
  dir: string
  maxSteps: number
  checkpointEvery: number
  resume: boolean
  device?: iv.Device
  /** Called after each step (the fault scenarios fail from here). */
  onStep?: (step: number) => void
}

/** DDP training with fit(); rank r's initial weights differ until DDP copies rank 0's. */
export async function train(opts: TrainOptions): Promise<{
  model: Net
  steps: number
  resumedFrom: number | null
  ddp: iv.distributed.DistributedDataParallel | null
}> {
  const rank = distributed.getRank()
  const worldSize = distributed.getWorldSize()
  iv.manualSeed(100 + rank)
  const device = opts.device ?? 'cpu'
  const model = new Net().to(device)
  // Buckets of about 100 bytes, so that there are several.
  const ddp = distributed.isInitialized()
    ? new distributed.DistributedDataParallel(model, { bucketCapMb: 0.0001 })
    : null
  const optimizer = new AdamW(model.parameters(), { lr: 0.01, weightDecay: 0.01 })
  const sampler = new distributed.DistributedSampler(N, { seed: 3 })
  const batches = function* (epoch: number): Iterable<[iv.Tensor, iv.Tensor]> {
    for (const idx of sampler.batches(epoch, GLOBAL_BATCH / worldSize)) {
      const index = iv.tensor(idx, { dtype: 'int32' })
      yield [data.x.indexSelect(0, index).to(device), data.y.indexSelect(0, index).to(device)]
    }
  }
  const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream
  const result = await iv.fit({
    model,
    optimizer,
    batches,
    step: ([x, y], m) => iv.crossEntropy(m.forward(x) as iv.Tensor, y),
    epochs: EPOCHS,
    maxSteps: opts.maxSteps,
    checkpoint: { path: path.join(opts.dir, 'checkpoint.safetensors'), every: opts.checkpointEvery },
    resume: opts.resume,
    log: { jsonlPath: path.join(opts.dir, 'log.jsonl'), stream: sink },
    onStep: ({ step }) => opts.onStep?.(step),
  })
  return { model, steps: result.steps, resumedFrom: result.resumedFrom, ddp }
}

const write = (dir: string, name: string, value: unknown) =>
  fs.writeFileSync(path.join(dir, name), JSON.stringify(value))
const values = (t: iv.Tensor) => Array.from(t.data() as ArrayLike<number>)
const message = (fn: () => unknown) => {
  try {
    fn()
    return null
  } catch (e) {
    return (e as Error).message
  }
}

/** Each collective on values that depend on the rank; the tests check the results by hand. */
function collectives(dir: string): void {
  const { rank } = distributed.worldInfo()
  const out: Record<string, unknown> = {}
  out.sum = values(distributed.allReduce(iv.tensor([rank + 1, 10 * (rank + 1)])))
  out.mean = values(distributed.allReduce(iv.tensor([rank, 2 * rank + 1], { dtype: 'float64' }), { op: 'mean' }))
  out.max = values(distributed.allReduce(iv.tensor([rank, -rank], { dtype: 'int32' }), { op: 'max' }))
  out.min = values(distributed.allReduce(iv.tensor([rank, -rank], { dtype: 'int32' }), { op: 'min' }))
  out.prod = values(distributed.allReduce(iv.tensor([rank + 2]), { op: 'prod' }))
  // A strided view is reduced in place: the columns of a [2, 3] tensor, through its transpose.
  const base = iv
    .tensor([
      [1, 2, 3],
      [4, 5, 6],
    ])
    .mul(rank + 1)
  distributed.allReduce(base.transpose(0, 1))
  out.strided = values(base)
  out.broadcast = values(distributed.broadcast(iv.tensor([rank, rank, rank]), 1))
  out.gathered = distributed.allGather(iv.tensor([[rank, rank + 0.5]])).toArray()
  distributed.barrier()
  out.boolError = message(() => distributed.allReduce(iv.tensor([true, false], { dtype: 'bool' })))
  out.srcError = message(() => distributed.broadcast(iv.tensor([1]), 5))

  // DDP with a parameter only rank 0 uses: its gradient is rank 0's over the world size.
  iv.manualSeed(1)
  const a = new Linear(4, 3)
  const b = new Linear(3, 2)
  const both = new (class extends Module {
    a = a
    b = b
    unused = new Linear(2, 2) // no rank uses it
  })()
  const x = iv.randn([5, 4], { generator: new iv.Generator(50 + rank) })
  const loss = () => {
    const h = a.forward(x) as iv.Tensor
    return rank === 0 ? (b.forward(h) as iv.Tensor).square().mean().add(h.mean()) : h.square().mean()
  }
  loss().backward()
  const local = both.parameters().map((p) => (p.grad ? values(p.grad) : new Array(p.numel).fill(0)))
  both.zeroGrad()
  const ddp = new distributed.DistributedDataParallel(both, { bucketCapMb: 0.0001 })
  loss().backward()
  const unused = both.unused.parameters()
  out.unusedGrads = unused.map((p) => p.grad)
  // AdamW with weight decay steps over every parameter; one with no gradient anywhere is skipped, as in one process.
  const before = unused.map((p) => values(p))
  new AdamW(both.parameters(), { lr: 0.1, weightDecay: 0.5 }).step()
  out.unusedMoved = unused.some((p, i) => values(p).some((v, j) => v !== before[i][j]))
  out.localGrads = local.slice(0, 4)
  out.ddpGrads = both
    .parameters()
    .slice(0, 4)
    .map((p) => values(p.grad!))
  ddp.remove()

  // BatchNorm statistics follow rank 0's after each backward.
  iv.manualSeed(2)
  const bn = new (class extends Module {
    conv = new Conv2d(2, 2, 1)
    bn = new BatchNorm2d(2)
  })()
  const ddpBn = new distributed.DistributedDataParallel(bn)
  const opt = new SGD(bn.parameters(), { lr: 0.1 })
  const input = iv.randn([4, 2, 3, 3], { generator: new iv.Generator(60 + rank) })
  ;(bn.bn.forward(bn.conv.forward(input) as iv.Tensor) as iv.Tensor).square().mean().backward()
  opt.step()
  out.runningMean = values(bn.bn.running_mean as iv.Tensor)
  ddpBn.remove()

  // Ranks whose models differ are refused before any gradient is mixed.
  out.mismatch = message(() => new distributed.DistributedDataParallel(new Linear(4, rank === 0 ? 2 : 3)))
  write(dir, `collectives-rank${rank}.json`, out)
}

/** Training in which rank 1 fails after step 5 (the checkpoint of step 4 is on disk by then). */
async function fault(dir: string, mode: string): Promise<void> {
  await train({
    dir,
    maxSteps: 1000,
    checkpointEvery: 2,
    resume: false,
    onStep: (step) => {
      if (distributed.getRank() !== 1 || step !== 5) return
      fs.writeFileSync(path.join(dir, 'failed-at'), String(Date.now()))
      if (mode === 'throw') throw new Error('injected failure on rank 1')
      if (mode === 'kill') process.kill(process.pid, 'SIGKILL')
      // stall: alive, but never reaching the next collective
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600_000)
    },
  })
}

async function main(): Promise<void> {
  const [scenario, dir, ...rest] = process.argv.slice(2)
  await distributed.init({ timeoutMs: scenario === 'fault' ? 8000 : 60_000 })
  const rank = distributed.getRank()
  if (scenario === 'train') {
    const [maxSteps, every, resume] = rest.slice(0, 3).map(Number)
    const device = (rest[3] ?? 'cpu') as iv.Device
    const { model, steps, resumedFrom, ddp } = await train({
      dir,
      maxSteps,
      checkpointEvery: every,
      resume: resume === 1,
      device,
    })
    const params = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.cpu()]))
    iv.saveFile(path.join(dir, `params-rank${rank}.safetensors`), params)
    write(dir, `train-rank${rank}.json`, {
      steps,
      resumedFrom,
      threads: iv.getNumThreads(),
      lastBackward: ddp?.lastBackward,
    })
  } else if (scenario === 'collectives') collectives(dir)
  else if (scenario === 'fault') await fault(dir, rest[0])
  else throw new Error(`worker: unknown scenario '${scenario}'`)
  distributed.destroy()
}

if (require.main === module) void main()
