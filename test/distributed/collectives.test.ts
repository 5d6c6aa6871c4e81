// The collectives on two ranks under `mpirun -np 2`, against values worked out by hand, and
// DistributedDataParallel's edge cases: a parameter one rank does not use, BatchNorm
// statistics, and ranks whose models differ.
import t from 'tap'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { assertClose } from '../helpers'
import { mpiSkipReason, runRanks } from './mpirun'

const skip = mpiSkipReason()

t.test('collectives and DDP on two ranks', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-coll-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const r = await runRanks(2, ['collectives', dir])
  t.equal(r.status, 0, `mpirun succeeded\n${r.output}`)
  const out = [0, 1].map((k) => JSON.parse(fs.readFileSync(path.join(dir, `collectives-rank${k}.json`), 'utf8')))
  for (const [k, o] of out.entries()) {
    t.test(`rank ${k}`, async (t) => {
      t.same(o.sum, [1 + 2, 10 + 20], 'sum of [r+1, 10(r+1)]')
      t.same(o.mean, [(0 + 1) / 2, (1 + 3) / 2], 'float64 mean of [r, 2r+1]')
      t.same(o.max, [1, 0], 'int32 max of [r, -r]')
      t.same(o.min, [0, -1], 'int32 min of [r, -r]')
      t.same(o.prod, [2 * 3], 'product of r+2')
      t.same(o.strided, [3, 6, 9, 12, 15, 18], 'a transposed view is reduced in place: (1+2) * [1..6]')
      t.same(o.broadcast, [1, 1, 1], "rank 1's values from src 1")
      t.same(o.gathered, [[[0, 0.5]], [[1, 1.5]]], 'allGather stacks in rank order')
      t.match(o.boolError, /allReduce: cannot take the sum of a bool tensor/)
      t.match(o.srcError, /broadcast: src must be a rank in \[0, 2\), got 5/)
      t.match(o.mismatch, /models differ: rank 1 has 2 parameters \(15 elements.*rank 0 has 2 parameters \(10 elements/)
    })
  }
  // DDP's gradient is the mean of the ranks' own gradients; rank 1 never used b (zeros there).
  const mean = out[0].localGrads.map((g: number[], i: number) => g.map((v, j) => (v + out[1].localGrads[i][j]) / 2))
  for (const k of [0, 1])
    mean.forEach((g: number[], i: number) =>
      assertClose(t, out[k].ddpGrads[i], g, 1e-6, 1e-7, `rank ${k} parameter ${i}`),
    )
  t.ok(
    out[1].localGrads[2].every((v: number) => v === 0),
    "rank 1's own gradient of the unused layer is zero",
  )
  t.ok(
    out[0].ddpGrads[2].some((v: number) => v !== 0),
    "the unused layer's reduced gradient is rank 0's half",
  )
  for (const k of [0, 1]) {
    t.same(out[k].unusedGrads, [null, null], `rank ${k}: a layer no rank used has no gradient (as in PyTorch)`)
    t.equal(out[k].unusedMoved, false, `rank ${k}: so AdamW's weight decay leaves it alone`)
  }
  t.same(out[1].runningMean, out[0].runningMean, "BatchNorm's running mean is rank 0's on both ranks")
})
