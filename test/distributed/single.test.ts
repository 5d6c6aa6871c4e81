// One process started without a launcher: init() makes a world of one in which every
// collective is the identity and DistributedDataParallel changes nothing, so a training script
// written for many ranks runs unchanged on one. Also the errors before init and of bad options.
import t from 'tap'
import * as iv from '../../src'
import { Linear, Module } from '../../src/nn'
import { SGD } from '../../src/optim'

for (const v of Object.keys(process.env))
  if (/^(OMPI_COMM_WORLD_|PMI_|SLURM_|RANK$|WORLD_SIZE$)/.test(v)) delete process.env[v]
const d = iv.distributed
const values = (x: iv.Tensor) => Array.from(x.data())

t.test('before init', async (t) => {
  t.equal(d.isInitialized(), false)
  t.same([d.getRank(), d.getWorldSize(), d.isMainProcess()], [0, 1, true], 'rank 0 of 1 outside a distributed run')
  t.throws(
    () => d.allReduce(iv.tensor([1])),
    /distributed\.allReduce: the process group is not initialised \(await distributed\.init\(\) first\)/,
  )
  t.throws(
    () => new d.DistributedDataParallel(new Linear(2, 2)),
    /DistributedDataParallel: the process group is not initialised/,
  )
  await t.rejects(d.init({ backend: 'gloo' as 'mpi' }), /backend must be 'mpi' or 'nccl', got "gloo"/)
  await t.rejects(d.init({ timeoutMs: 0 }), /timeoutMs must be a positive number, got 0/)
  const why = d.unavailableReason('nccl')
  if (why !== null) {
    const err = await d.init({ backend: 'nccl' }).catch((e: Error) => e)
    t.equal((err as Error).message, `distributed.init: the NCCL backend is not available: ${why}`)
    t.equal(d.isInitialized(), false, 'a failed init leaves nothing behind')
  }
  t.match(d.unavailableReason('gloo' as 'mpi'), /unknown backend 'gloo'/)
})

t.test('a world of one', async (t) => {
  const info = await d.init()
  t.same(info, { launcher: 'none', rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, backend: 'none' })
  await t.rejects(d.init(), /already initialised \(rank 0 of 1\)/)
  t.same(values(d.allReduce(iv.tensor([1.5, -2]), { op: 'mean' })), [1.5, -2])
  t.same(values(d.broadcast(iv.tensor([4]))), [4])
  t.throws(() => d.broadcast(iv.tensor([4]), 1), /src must be a rank in \[0, 1\), got 1/)
  t.same(d.allGather(iv.tensor([[1, 2]])).toArray(), [[[1, 2]]])
  d.barrier()
  t.throws(
    () => d.allReduce(iv.tensor([1], { dtype: 'int32' }), { op: 'mean' }),
    /cannot take the mean of a int32 tensor/,
  )
  t.throws(
    () => d.allReduce(iv.tensor([1]), { op: 'avg' as 'mean' }),
    /op must be 'sum', 'mean', 'prod', 'max' or 'min', got 'avg'/,
  )

  // DDP on one rank: the same training, step for step.
  const run = (ddp: boolean) => {
    iv.manualSeed(5)
    const model = new Linear(3, 2)
    if (ddp) new d.DistributedDataParallel(model, { bucketCapMb: 0.00001 })
    const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 })
    const x = iv.randn([4, 3], { generator: new iv.Generator(1) })
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad()
      ;(model.forward(x) as iv.Tensor).square().mean().backward()
      opt.step()
    }
    return model.parameters().map(values)
  }
  t.same(run(true), run(false), 'DistributedDataParallel on one process changes nothing')
  t.throws(() => new d.DistributedDataParallel({} as Module), /DistributedDataParallel: expected a Module, got object/)
  t.throws(
    () => new d.DistributedDataParallel(new Linear(2, 2).requiresGrad_(false)),
    /the model has no parameter that requires grad/,
  )
  t.throws(
    () => new d.DistributedDataParallel(new Linear(2, 2), { bucketCapMb: 0 }),
    /bucketCapMb must be positive, got 0/,
  )

  d.destroy()
  t.equal(d.isInitialized(), false)
})
