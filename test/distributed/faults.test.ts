// A rank that throws, is killed, or hangs makes the other stop with a clear error within 30 s
// (no hang), and the last checkpoint stays loadable. Rank 1 fails after step 5; rank 0 is then
// blocked in step 6's gradient all-reduce, so the checkpoint of step 4 is the last one.
import t from 'tap'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../../src'
import { mpiSkipReason, runRanks } from './mpirun'

const skip = mpiSkipReason()

const cases: [string, string, RegExp][] = [
  [
    'throw',
    'throws',
    /Error: injected failure on rank 1[\s\S]*rank 1 of 2 is exiting with code 1 inside a distributed run: aborting the job/,
  ],
  ['kill', 'is killed (SIGKILL)', /process rank 1 with PID \d+ on node \S+ exited on signal 9 \(Killed\)/],
  [
    'stall',
    'hangs',
    /allReduce \(mpi\) did not finish within 8 s on rank 0 of 2[\s\S]*rank 0 of 2 is exiting with code 1/,
  ],
]

for (const [mode, what, expected] of cases) {
  t.test(`rank 1 ${what}`, { skip }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `iv-fault-${mode}-`))
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
    const r = await runRanks(2, ['fault', dir, mode], 120_000)
    t.not(r.status, 0, 'mpirun reports the failure')
    t.match(r.output, expected, 'the output says which rank failed and why')
    const failedAt = Number(fs.readFileSync(path.join(dir, 'failed-at'), 'utf8'))
    t.ok(
      r.endedAt - failedAt < 30_000,
      `every rank stopped ${((r.endedAt - failedAt) / 1000).toFixed(1)} s after the failure`,
    )
    const ckpt = iv.loadCheckpoint(path.join(dir, 'checkpoint.safetensors'))
    t.equal(ckpt.step, 4, 'the checkpoint of step 4 loads')
    t.ok(
      Object.values(ckpt.model).every((v) => Array.from(v.data()).every(Number.isFinite)),
      'with finite weights',
    )
  })
}
