// A distributed run resumes on a different number of processes: the global batch stays the
// same, and the sampler deals samples so that step b takes the same ones however many ranks
// there are. Both directions end where an uninterrupted one-process run ends.
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

t.test('resume on one process after two ranks, and on two ranks after one process', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-resume-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const sub = (name: string) => {
    const d = path.join(dir, name)
    fs.mkdirSync(d)
    return d
  }
  const reference = (
    await train({ dir: sub('ref'), maxSteps: 8, checkpointEvery: 100, resume: false })
  ).model.stateDict()

  // Two ranks stop at step 6 (mid-epoch: 4 steps per epoch), checkpointed; one process resumes.
  const twoToOne = sub('two-to-one')
  const first = await runRanks(2, ['train', twoToOne, '6', '3', '0'])
  t.equal(first.status, 0, `the two-rank run succeeded\n${first.output}`)
  const resumed = await train({ dir: twoToOne, maxSteps: 8, checkpointEvery: 3, resume: true })
  t.equal(resumed.resumedFrom, 6)
  for (const [name, v] of Object.entries(resumed.model.stateDict()))
    assertClose(t, values(v), values(reference[name]), 1e-5, 1e-6, `2 -> 1: ${name}`)

  // One process stops at step 6, checkpointed; two ranks resume.
  const oneToTwo = sub('one-to-two')
  await train({ dir: oneToTwo, maxSteps: 6, checkpointEvery: 3, resume: false })
  const second = await runRanks(2, ['train', oneToTwo, '8', '3', '1'])
  t.equal(second.status, 0, `the two-rank resume succeeded\n${second.output}`)
  const info = JSON.parse(fs.readFileSync(path.join(oneToTwo, 'train-rank1.json'), 'utf8'))
  t.equal(info.resumedFrom, 6)
  const ranks = [0, 1].map((k) => iv.loadFile(path.join(oneToTwo, `params-rank${k}.safetensors`)))
  for (const [name, ref] of Object.entries(reference)) {
    t.same(values(ranks[1][name]), values(ranks[0][name]), `1 -> 2: ${name} agrees bit for bit`)
    assertClose(t, values(ranks[0][name]), values(ref), 1e-5, 1e-6, `1 -> 2: ${name}`)
  }
})
