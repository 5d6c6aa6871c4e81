// The NCCL backend, where a GPU and libnccl.so.2 are at hand (skipped elsewhere, CI included):
// one GPU in this process (a world of one that still goes through NCCL), and two ranks on two
// GPUs launched torchrun-style when the machine has them.
import t from 'tap'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../../src'
import { Linear } from '../../src/nn'
import { SGD } from '../../src/optim'
import { assertClose } from '../helpers'
import { runEnvLaunched } from './mpirun'
import { train } from './worker'

for (const v of Object.keys(process.env))
  if (/^(OMPI_COMM_WORLD_|PMI_|SLURM_|RANK$|WORLD_SIZE$)/.test(v)) delete process.env[v]
const d = iv.distributed
const why = d.unavailableReason('nccl')
const values = (x: iv.Tensor) => Array.from(x.data())

t.test('one GPU through NCCL', { skip: why ? `NCCL is not available: ${why}` : false }, async (t) => {
  const info = await d.init({ backend: 'nccl' })
  t.same([info.backend, info.rank, info.worldSize], ['nccl', 0, 1])
  // Queued compute must finish before NCCL reads: the all-reduce sees x * 2.
  const x = iv.arange(0, 1 << 20, 1, { device: 'cuda' }).mul(2)
  d.allReduce(x)
  t.same(values(x.narrow(0, 0, 4)), [0, 2, 4, 6])
  t.same(values(d.allReduce(iv.tensor([1, 2], { dtype: 'int32', device: 'cuda' }), { op: 'max' })), [1, 2])
  t.same(d.allGather(iv.tensor([[3, 4]], { device: 'cuda' })).toArray(), [[[3, 4]]])
  t.same(values(d.broadcast(iv.tensor([5], { dtype: 'float64', device: 'cuda' }))), [5])
  d.barrier()
  t.throws(() => d.allReduce(iv.tensor([1])), /has no backend for cpu tensors/)
  const run = (ddp: boolean) => {
    iv.manualSeed(5)
    const model = new Linear(3, 2).to('cuda')
    if (ddp) new d.DistributedDataParallel(model, { bucketCapMb: 0.00001 })
    const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 })
    const input = iv.randn([4, 3], { generator: new iv.Generator(1) }).to('cuda')
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad()
      ;(model.forward(input) as iv.Tensor).square().mean().backward()
      opt.step()
    }
    return model.parameters().map(values)
  }
  t.same(run(true), run(false), 'DDP through NCCL on one GPU changes nothing')
  d.destroy()
})

const gpus = why ? 0 : iv.cuda.deviceCount()
t.test(
  'two ranks on two GPUs, torchrun-style',
  { skip: gpus < 2 ? `needs 2 GPUs with NCCL (${why ?? `${gpus} GPU`})` : false },
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-nccl-'))
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
    const r = await runEnvLaunched(2, ['train', dir, '8', '4', '0', 'cuda'])
    t.same(r.statuses, [0, 0], `both ranks succeeded\n${r.output}`)
    const ranks = [0, 1].map((k) => iv.loadFile(path.join(dir, `params-rank${k}.safetensors`)))
    const single = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-nccl-ref-'))
    t.teardown(() => fs.rmSync(single, { recursive: true, force: true }))
    const reference = (
      await train({ dir: single, maxSteps: 8, checkpointEvery: 100, resume: false, device: 'cuda' })
    ).model.stateDict()
    for (const [name, ref] of Object.entries(reference)) {
      t.same(values(ranks[1][name]), values(ranks[0][name]), `${name}: the ranks agree bit for bit`)
      assertClose(t, values(ranks[0][name]), values(ref), 1e-4, 1e-5, `${name} vs one GPU with batch 2B`)
    }
  },
)
