// The pretrain command and exact resume: an expert stage killed with SIGKILL mid-run resumes to
// the weights and log of a straight run; --help, --dry-run and the error paths of
// pretrainCommand (one `intern-vision: ...` line, exit code 2, nothing written or lost).
import t from 'tap'
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { pretrainCommand } from '../../src/cli/pretrain'
import { readStageWeights, trainExpert, type ExpertOptions } from '../../src/intern'
import { readStageLog } from '../../src/intern/stage-log'

const repo = path.resolve(__dirname, '..', '..')
const root = t.testdir({})

const options = (out: string, resume = false): ExpertOptions => ({
  type: 'C',
  backbone: 'mn-t',
  imageSize: 32,
  init: 'scratch',
  sources: ['up-cls-colour', 'up-cls-family'],
  steps: 30,
  batchSize: 4,
  lr: 2e-3,
  seed: 5,
  out,
  resume,
  checkpointEvery: 3,
  log: { quiet: true },
})

t.test('an expert stage killed with SIGKILL resumes exactly', async (t) => {
  const killed = path.join(root, 'killed')
  const child = path.join(root, 'child.ts')
  fs.writeFileSync(
    child,
    `import { trainExpert } from ${JSON.stringify(path.join(repo, 'src/intern'))}\ntrainExpert(${JSON.stringify(options(killed))})\n`,
  )
  const proc = spawn(process.execPath, ['--import', 'tsx', child], { cwd: repo, stdio: 'ignore' })
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)))
  const logFile = path.join(killed, 'log.jsonl')
  // Kill once a few checkpoints are behind it, between two of them.
  while (readStageLog(logFile).length < 8) {
    if (proc.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 5))
  }
  proc.kill('SIGKILL')
  t.equal(await exited, 'SIGKILL', 'the child was killed')
  const stepsDone = readStageLog(logFile).length
  t.ok(stepsDone >= 8 && stepsDone < 30, `killed after ${stepsDone} of 30 steps`)
  t.notOk(fs.existsSync(path.join(killed, 'card.json')), 'no card: the stage is unfinished')

  await t.rejects(trainExpert(options(killed)), /unfinished stage; pass resume/, 'a rerun without resume is refused')
  const resumed = await trainExpert(options(killed, true))
  const straight = await trainExpert(options(path.join(root, 'straight')))
  const a = readStageWeights(killed)
  const b = readStageWeights(path.join(root, 'straight'))
  t.same(Object.keys(a), Object.keys(b))
  const bytes = (x: (typeof a)[string]) => Buffer.from(x.data().slice().buffer)
  const differ = Object.keys(a).filter((k) => !bytes(a[k]).equals(bytes(b[k])))
  t.same(differ, [], 'every tensor of the resumed stage equals the straight run, bit for bit')
  const losses = (dir: string) => readStageLog(path.join(dir, 'log.jsonl')).map((r) => [r.step, r.loss])
  t.same(
    losses(killed),
    losses(path.join(root, 'straight')),
    'the resumed log reads as the straight run: one line per step, same losses',
  )
  t.same(resumed.finalLosses, straight.finalLosses)
})

/** Runs the command, capturing what it writes. */
async function command(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = []
  const err: string[] = []
  const write = { out: process.stdout.write, err: process.stderr.write }
  process.stdout.write = ((s: string) => out.push(String(s)) > 0) as typeof process.stdout.write
  process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write
  try {
    const code = await pretrainCommand(argv)
    return { code, stdout: out.join(''), stderr: err.join('') }
  } finally {
    process.stdout.write = write.out
    process.stderr.write = write.err
  }
}

t.test('--help prints the usage to stdout', async (t) => {
  const r = await command(['--help'])
  t.equal(r.code, 0)
  t.match(r.stdout, /^usage: intern-vision pretrain --stage amateur\|expert\|generalist --preset NAME/)
  t.equal(r.stderr, '')
})

t.test('--dry-run builds every cpu-quick stage and runs one step, writing nothing', async (t) => {
  const out = path.join(root, 'dry')
  for (const stage of [
    ['amateur'],
    ['expert', '--type', 'C'],
    ['expert', '--type', 'D'],
    ['expert', '--type', 'S'],
    ['generalist', '--type', 'C-D-S'],
  ]) {
    const r = await command(['--stage', ...stage, '--preset', 'cpu-quick', '--dry-run', '--out', out])
    t.equal(r.code, 0, `${stage.join(' ')}: ${r.stderr}`)
    t.match(r.stdout, /^dry run ok: cpu-quick .* at 32 px on mn-t: loss \d+\.\d+/, r.stdout.trim())
  }
  t.notOk(fs.existsSync(out), 'nothing written')
})

t.test('a stage through the command; errors are one line and exit code 2, nothing lost', async (t) => {
  const dir = path.join(root, 'cmd-S')
  const ok = await command([
    '--stage',
    'expert',
    '--type',
    'S',
    '--preset',
    'cpu-quick',
    '--from',
    'scratch',
    '--steps',
    '2',
    '--out',
    dir,
    '--quiet',
  ])
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /^expert-S: 2 steps in \d+ s, final loss \d/)
  t.ok(fs.existsSync(path.join(dir, 'card.json')))
  const model = fs.readFileSync(path.join(dir, 'model.safetensors'))

  const cases: [string, string[], RegExp][] = [
    [
      'unknown stage',
      ['--stage', 'novice', '--preset', 'cpu-quick'],
      /--stage must be amateur, expert or generalist, got 'novice'/,
    ],
    [
      'unknown preset',
      ['--stage', 'expert', '--type', 'C', '--preset', 'gpu-huge'],
      /unknown preset 'gpu-huge'; known: cpu-quick/,
    ],
    ['unknown type', ['--stage', 'expert', '--type', 'X', '--preset', 'cpu-quick'], /needs --type C, D or S, got 'X'/],
    [
      'a bad generalist type',
      ['--stage', 'generalist', '--type', 'C', '--preset', 'cpu-quick'],
      /expert types joined by '-'/,
    ],
    [
      'unknown source',
      [
        '--stage',
        'expert',
        '--type',
        'C',
        '--preset',
        'cpu-quick',
        '--sources',
        'up-nothing',
        '--from',
        'scratch',
        '--out',
        path.join(root, 'x'),
      ],
      /no source 'up-nothing'/,
    ],
    [
      'a missing parent',
      [
        '--stage',
        'expert',
        '--type',
        'C',
        '--preset',
        'cpu-quick',
        '--from',
        path.join(root, 'nowhere'),
        '--out',
        path.join(root, 'x'),
      ],
      /holds no finished stage/,
    ],
    [
      'a mismatched parent',
      ['--stage', 'generalist', '--preset', 'cpu-quick', '--experts', `${dir},${dir}`, '--out', path.join(root, 'x')],
      /type S is given twice/,
    ],
    [
      'an unknown option',
      ['--stage', 'expert', '--preset', 'cpu-quick', '--colour', 'red'],
      /Unknown option '--colour'/,
    ],
    [
      'a finished stage as --out',
      ['--stage', 'expert', '--type', 'S', '--preset', 'cpu-quick', '--from', 'scratch', '--out', dir],
      /already holds a finished stage/,
    ],
    [
      'a finished stage as the amateur --out',
      ['--stage', 'amateur', '--preset', 'cpu-quick', '--out', dir],
      /already holds a finished stage/,
    ],
  ]
  for (const [what, argv, re] of cases) {
    const r = await command(argv)
    t.equal(r.code, 2, `${what}: exit code 2`)
    t.match(r.stderr, re, what)
    t.match(r.stderr, /^intern-vision: [^\n]*\n$/, `${what}: one line`)
  }
  t.notOk(fs.existsSync(path.join(root, 'x')), 'nothing written by the refused runs')
  t.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(model), 'the finished stage is untouched')
})
