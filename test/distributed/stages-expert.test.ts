// The expert stage trainer under `mpirun -np 2`: it joins the world by itself, both ranks end
// with the same weights bit for bit, rank 0 alone writes one stage folder, and the run equals
// one process taking the same global batches. A MetaNet has BatchNorm, whose batch statistics each
// rank takes over its own half: the one-process reference therefore normalises each rank's
// half by its own statistics too (perRankBatchNorm), which is exactly what the two ranks
// compute; everything else (per-source mean cross-entropy, AdamW, clipping) is a function of
// the averaged gradient, which is the whole batch's up to float32 round-off.
import t from 'tap'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../../src'
import { trainExpert } from '../../src/intern/expert'
import {
  CARD_FILE,
  CHECKPOINT_FILE,
  LOG_FILE,
  loadStageBackbone,
  MODEL_FILE,
  readStageCard,
} from '../../src/intern/stage-io'
import { readStageLog } from '../../src/intern/stage-log'
import { assertClose } from '../helpers'
import { mpiSkipReason } from './mpirun'
import { expertOptions, mpirunScript, perRankBatchNorm } from './stages-worker'

const skip = mpiSkipReason()
const worker = path.join(__dirname, 'stages-worker.ts')
const values = (x: iv.Tensor) => Array.from(x.data() as ArrayLike<number>)

t.test('an expert trained on two ranks', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-stages-expert-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const stage = path.join(dir, 'stage')
  const ranks = path.join(dir, 'ranks')
  fs.mkdirSync(ranks)
  const r = await mpirunScript(2, worker, ['expert', stage, ranks])
  t.equal(r.status, 0, `mpirun succeeded\n${r.output}`)

  const [w0, w1] = [0, 1].map((k) => iv.loadFile(path.join(ranks, `params-rank${k}.safetensors`)))
  t.same(Object.keys(w1), Object.keys(w0))
  for (const name of Object.keys(w0))
    t.same(values(w1[name]), values(w0[name]), `${name}: rank 1 holds rank 0's values bit for bit`)

  t.same(
    fs.readdirSync(stage).sort(),
    [CARD_FILE, CHECKPOINT_FILE, LOG_FILE, MODEL_FILE].sort(),
    'one stage folder, nothing else in it',
  )
  const saved = iv.loadFile(path.join(stage, MODEL_FILE))
  for (const name of Object.keys(w0)) t.same(values(saved[name]), values(w0[name]), `${MODEL_FILE} ${name} is rank 0's`)
  const log = readStageLog(path.join(stage, LOG_FILE))
  t.same(
    log.map((l) => l.step),
    [1, 2, 3],
    'one log line per step: rank 0 alone logs',
  )
  t.equal(readStageCard(stage).steps, 3)
  for (const k of [0, 1]) {
    const { card, worldSize } = JSON.parse(fs.readFileSync(path.join(ranks, `card-rank${k}.json`), 'utf8'))
    t.equal(worldSize, 2, `rank ${k} joined a world of 2 ranks`)
    t.equal(card.name, 'expert-C', `rank ${k} returned the stage's card`)
  }

  // One process, the same global batches, BatchNorm's statistics taken per rank half.
  const single = path.join(dir, 'single')
  const undo = perRankBatchNorm(2)
  try {
    await trainExpert(expertOptions(single))
  } finally {
    undo()
  }
  // The logged loss is the mean of the ranks' losses: the whole batch's, step by step.
  const singleLog = readStageLog(path.join(single, LOG_FILE))
  assertClose(
    t,
    log.map((l) => l.loss),
    singleLog.map((l) => l.loss),
    1e-5,
    1e-6,
    'logged losses vs one process',
  )
  // The classifiers' weights agree to round-off. The backbone's do too, except where the model
  // does not permit it: a bias followed by BatchNorm has no gradient but round-off, which
  // AdamW's normalised step makes of the order of lr, and the running statistics after it
  // follow. BatchNorm in training mode removes such biases, so the backbones compute the same
  // function of a batch.
  const reference = iv.loadFile(path.join(single, MODEL_FILE))
  t.same(Object.keys(reference).sort(), Object.keys(w0).sort())
  for (const [name, ref] of Object.entries(reference))
    if (name.startsWith('head.')) assertClose(t, values(w0[name]), values(ref), 1e-4, 1e-6, `${name} vs one process`)
  const x = iv.rand([8, 3, 16, 16], { generator: new iv.Generator(11) })
  const [two, one] = [stage, single].map((d) => {
    const b = loadStageBackbone(d).train()
    return values(iv.noGrad(() => b.forwardPooled(x)))
  })
  assertClose(
    t,
    two,
    one,
    1e-4,
    1e-5,
    'the backbones compute the same function of a batch (BatchNorm in training mode)',
  )
})
