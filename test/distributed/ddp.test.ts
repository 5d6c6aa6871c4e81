// DistributedDataParallel under `mpirun -np 2`: two ranks with batch B end with the
// parameters one process reaches with batch 2B, bit for bit the same on both ranks; fit()
// logs and checkpoints on rank 0 only.
import t from 'tap'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../../src'
import { assertClose } from '../helpers'
import { mpiSkipReason, runRanks } from './mpirun'
import { train } from './worker'

const skip = mpiSkipReason()

const values = (t: iv.Tensor) => Array.from(t.data() as Float32Array)

t.test('two ranks with batch B end where one process with batch 2B does', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-ddp-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const run = path.join(dir, 'run')
  fs.mkdirSync(run)
  const r = await runRanks(2, ['train', run, '8', '4', '0'])
  t.equal(r.status, 0, `mpirun succeeded\n${r.output}`)

  const ranks = [0, 1].map((k) => iv.loadFile(path.join(run, `params-rank${k}.safetensors`)))
  // The reference: the same fit() in this process, no launcher, one process taking the global batch.
  const single = path.join(dir, 'single')
  fs.mkdirSync(single)
  const reference = (await train({ dir: single, maxSteps: 8, checkpointEvery: 100, resume: false })).model.stateDict()
  for (const [name, ref] of Object.entries(reference)) {
    t.same(values(ranks[1][name]), values(ranks[0][name]), `${name}: rank 1 holds rank 0's values bit for bit`)
    assertClose(t, values(ranks[0][name]), values(ref), 1e-5, 1e-6, `${name} vs one process with batch 2B`)
  }

  for (const k of [0, 1]) {
    const info = JSON.parse(fs.readFileSync(path.join(run, `train-rank${k}.json`), 'utf8'))
    t.equal(info.steps, 8)
    t.equal(info.threads, Math.max(1, Math.floor(os.availableParallelism() / 2)), 'the two ranks share the cores')
    // Reversed parameters in buckets of <= 104 bytes: [head.bias], [head.weight], [norm.bias, norm.weight, conv.bias],
    // [conv.weight].
    t.same(
      info.lastBackward,
      { buckets: 4, startedDuringBackward: 4 },
      'every bucket started from a gradient hook, none at the end of backward',
    )
  }
  const log = fs.readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n')
  t.same(
    log.map((l) => JSON.parse(l).step),
    [1, 2, 3, 4, 5, 6, 7, 8],
    'one log line per step: rank 0 alone logs',
  )
  const ckpt = iv.loadCheckpoint(path.join(run, 'checkpoint.safetensors'))
  t.equal(ckpt.step, 8)
  for (const [name, v] of Object.entries(ckpt.model))
    t.same(values(v), values(ranks[0][name]), `checkpoint ${name} is rank 0's model`)
})
