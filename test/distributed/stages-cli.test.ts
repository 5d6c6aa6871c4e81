// The CLI's --nproc: `intern-vision pretrain --nproc 2` reruns itself under mpirun and leaves
// the stage folder that the same command started by mpirun directly leaves, bit for bit;
// `intern-vision train --nproc 2` trains and reports once; `intern-vision run` refuses --nproc.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../../src'
import { CARD_FILE, CHECKPOINT_FILE, LOG_FILE, MODEL_FILE, readStageCard } from '../../src/intern/stage-io'
import { readStageLog } from '../../src/intern/stage-log'
import { mpiSkipReason } from './mpirun'
import { mpirunScript } from './stages-worker'

const skip = mpiSkipReason()
const cli = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts')
const intern = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, INTERN_VISION_CUDA: '0' },
    timeout: 120_000,
  })
const bytes = (x: iv.Tensor) => {
  const d = x.data()
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength)
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-stages-cli-'))
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }))

t.test('pretrain --nproc 2 writes the stage folder that mpirun -np 2 pretrain writes', { skip }, async (t) => {
  const stage = [
    'pretrain',
    '--stage',
    'expert',
    '--type',
    'C',
    '--preset',
    'cpu-quick',
    '--from',
    'scratch',
    '--steps',
    '2',
    '--quiet',
  ]
  const viaNproc = path.join(root, 'nproc')
  const direct = path.join(root, 'mpirun')
  const a = intern([...stage, '--out', viaNproc, '--nproc', '2'])
  t.equal(a.status, 0, `--nproc 2 succeeded\n${a.stdout}${a.stderr}`)
  t.match(a.stdout, /^expert-C: 2 steps in \d+ s, final loss \d/, 'rank 0 alone reports')
  t.equal(a.stdout.trim().split('\n').length, 1, 'one report line')
  const b = await mpirunScript(2, cli, [...stage, '--out', direct])
  t.equal(b.status, 0, `mpirun succeeded\n${b.output}`)

  for (const dir of [viaNproc, direct])
    t.same(
      fs.readdirSync(dir).sort(),
      [CARD_FILE, CHECKPOINT_FILE, LOG_FILE, MODEL_FILE].sort(),
      `${path.basename(dir)}: one stage folder`,
    )
  const [x, y] = [viaNproc, direct].map((d) => iv.loadFile(path.join(d, MODEL_FILE)))
  t.same(Object.keys(x).sort(), Object.keys(y).sort())
  t.ok(
    Object.keys(x).every((k) => bytes(x[k]).equals(bytes(y[k]))),
    'the same weights bit for bit',
  )
  const card = (d: string) => {
    const { seconds: _s, createdAt: _c, ...rest } = readStageCard(d)
    return rest
  }
  t.same(card(viaNproc), card(direct), 'the same card (but for its times)')
  const log = (d: string) => readStageLog(path.join(d, LOG_FILE)).map(({ seconds: _, ...rest }) => rest)
  t.same(log(viaNproc), log(direct), 'the same log (but for its times)')
  t.same(
    log(direct).map((l) => l.step),
    [1, 2],
  )
})

t.test('train --nproc 2 trains data-parallel and reports once', { skip }, async (t) => {
  const out = path.join(root, 'train')
  const r = intern([
    'train',
    '--data',
    'world',
    '--steps',
    '2',
    '--batch-size',
    '8',
    '--image-size',
    '16',
    '--train-size',
    '32',
    '--test-size',
    '16',
    '--out',
    out,
    '--nproc',
    '2',
  ])
  t.equal(r.status, 0, `train --nproc 2 succeeded\n${r.stdout}${r.stderr}`)
  t.equal(r.stdout.match(/test accuracy/g)?.length, 1, 'rank 0 alone reports')
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'))
  t.equal(report.steps, 2)
  t.same(
    fs
      .readFileSync(path.join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step),
    [1, 2],
    'one log line per step',
  )
  const odd = intern([
    'train',
    '--steps',
    '2',
    '--batch-size',
    '7',
    '--image-size',
    '16',
    '--train-size',
    '32',
    '--test-size',
    '16',
    '--out',
    path.join(root, 'odd'),
    '--nproc',
    '2',
  ])
  t.not(odd.status, 0)
  t.match(odd.stderr, /a global batch of 7 does not split evenly among 2 ranks/)
})

t.test('run refuses --nproc, saying why', async (t) => {
  const r = intern(['run', '--preset', 'cpu-default', '--out', path.join(root, 'run'), '--nproc', '2'])
  t.equal(r.status, 2)
  t.match(r.stderr, /intern-vision run: --nproc 2: the pipeline runs as one process/)
  t.notOk(fs.existsSync(path.join(root, 'run')), 'nothing started')
})
