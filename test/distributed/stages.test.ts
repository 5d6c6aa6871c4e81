// The stage trainers under `mpirun -np 2`: each joins the world by itself, both ranks end with
// the same weights bit for bit, rank 0 alone writes one stage folder, and the run equals one
// process taking the same global batches. A MetaNet has BatchNorm, whose batch statistics each
// rank takes over its own half: the one-process reference therefore normalises each rank's half
// by its own statistics too (perRankBatchNorm), which is exactly what the two ranks compute;
// everything else (per-source mean losses, AdamW, clipping) is a function of the averaged
// gradient, which is the whole batch's up to float32 round-off.
//
// Weights are compared where the model permits: a bias followed by BatchNorm has no gradient but
// round-off, which AdamW's normalised step makes of the order of lr (BatchNorm in training mode
// removes it again), so for the backbones the test compares the function they compute instead.
// The amateur trains SimSiam alone: the contrastive terms couple every image of a batch with
// every caption, and MLM masks by random draws, so with those no split of a batch can equal the
// whole (see stages-worker.ts).
import t, { type Test } from 'tap'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../../src'
import { trainAmateur } from '../../src/intern/amateur'
import { trainExpert } from '../../src/intern/expert'
import {
  CARD_FILE,
  CHECKPOINT_FILE,
  LOG_FILE,
  loadStageBackbone,
  MODEL_FILE,
  readStageCard,
} from '../../src/intern/stage-io'
import { readStageLog, type LogRecord } from '../../src/intern/stage-log'
import { assertClose } from '../helpers'
import { mpiSkipReason } from './mpirun'
import { amateurOptions, expertOptions, mpirunScript, perRankBatchNorm } from './stages-worker'

const skip = mpiSkipReason()
const worker = path.join(__dirname, 'stages-worker.ts')
const values = (x: iv.Tensor) => Array.from(x.data() as ArrayLike<number>)

interface TwoRankRun {
  /** Rank 0's weights, and the one-process reference's. */
  weights: Record<string, iv.Tensor>
  reference: Record<string, iv.Tensor>
  log: LogRecord[]
  singleLog: LogRecord[]
}

/** Trains `stage` on two ranks and in one process; checks what every stage shares. */
async function twoRanks(
  t: Test,
  stage: 'amateur' | 'expert',
  cardName: string,
  trainOne: (out: string) => Promise<unknown>,
): Promise<TwoRankRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `iv-stages-${stage}-`))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const out = path.join(dir, 'stage')
  const ranks = path.join(dir, 'ranks')
  fs.mkdirSync(ranks)
  const r = await mpirunScript(2, worker, [stage, out, ranks])
  t.equal(r.status, 0, `mpirun succeeded\n${r.output}`)

  const [w0, w1] = [0, 1].map((k) => iv.loadFile(path.join(ranks, `params-rank${k}.safetensors`)))
  t.same(Object.keys(w1), Object.keys(w0))
  for (const name of Object.keys(w0))
    t.same(values(w1[name]), values(w0[name]), `${name}: rank 1 holds rank 0's values bit for bit`)
  t.same(
    fs.readdirSync(out).sort(),
    [CARD_FILE, CHECKPOINT_FILE, LOG_FILE, MODEL_FILE].sort(),
    'one stage folder, nothing else in it',
  )
  const saved = iv.loadFile(path.join(out, MODEL_FILE))
  for (const name of Object.keys(w0)) t.same(values(saved[name]), values(w0[name]), `${MODEL_FILE} ${name} is rank 0's`)
  const log = readStageLog(path.join(out, LOG_FILE))
  t.same(
    log.map((l) => l.step),
    [1, 2, 3],
    'one log line per step: rank 0 alone logs',
  )
  t.equal(readStageCard(out).steps, 3)
  for (const k of [0, 1]) {
    const { card, worldSize } = JSON.parse(fs.readFileSync(path.join(ranks, `card-rank${k}.json`), 'utf8'))
    t.equal(worldSize, 2, `rank ${k} joined a world of 2 ranks`)
    t.equal(card.name, cardName, `rank ${k} returned the stage's card`)
  }

  // One process, the same global batches, BatchNorm's statistics taken per rank half.
  const single = path.join(dir, 'single')
  const undo = perRankBatchNorm(2)
  try {
    await trainOne(single)
  } finally {
    undo()
  }
  const x = iv.rand([8, 3, 16, 16], { generator: new iv.Generator(11) })
  const [two, one] = [out, single].map((d) => {
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
  const reference = iv.loadFile(path.join(single, MODEL_FILE))
  t.same(Object.keys(reference).sort(), Object.keys(w0).sort())
  return { weights: w0, reference, log, singleLog: readStageLog(path.join(single, LOG_FILE)) }
}

t.test('an expert trained on two ranks', { skip }, async (t) => {
  const run = await twoRanks(t, 'expert', 'expert-C', (out) => trainExpert(expertOptions(out)))
  // The logged loss is the mean of the ranks' losses: the whole batch's, step by step.
  assertClose(
    t,
    run.log.map((l) => l.loss),
    run.singleLog.map((l) => l.loss),
    1e-5,
    1e-6,
    'logged losses vs one process',
  )
  for (const [name, ref] of Object.entries(run.reference))
    if (name.startsWith('head.'))
      assertClose(t, values(run.weights[name]), values(ref), 1e-4, 1e-6, `${name} vs one process`)
})

t.test('an amateur trained on two ranks', { skip }, async (t) => {
  const run = await twoRanks(t, 'amateur', 'amateur', (out) => trainAmateur(amateurOptions(out)))
  for (const term of ['total', 'simsiam'])
    assertClose(
      t,
      run.log.map((l) => l[term]),
      run.singleLog.map((l) => l[term]),
      1e-5,
      1e-6,
      `logged ${term} vs one process`,
    )
  // No term uses the text tower here: one process leaves it as initialised, and so does DDP,
  // which gives a parameter no rank used no gradient (so AdamW's weight decay skips it).
  const text = Object.keys(run.reference).filter((n) => n.startsWith('text.') || n.startsWith('textProjection.'))
  t.ok(text.length > 0, 'the stage holds a text tower')
  for (const name of text)
    t.same(values(run.weights[name]), values(run.reference[name]), `${name} equals one process's bit for bit`)
})
