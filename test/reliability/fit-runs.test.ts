// Issue #17, item 12 (the training loop): a resumed run's log never repeats a step, resuming
// says so, checkpoints come every N steps and always at the end, and a new run in an old
// folder starts clean without losing the old run's files.
import t from 'tap'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as iv from '../../src'
import { Linear, Module } from '../../src/nn'
import { SGD } from '../../src/optim'
import { fit, type FitOptions } from '../../src/train'

const X = iv.randn([64, 4], { generator: new iv.Generator(5) })
const Y = X.sum(1, true)
function* batches(epoch: number): Iterable<[iv.Tensor, iv.Tensor]> {
  const perm = Array.from(iv.randperm(64, { generator: new iv.Generator(100 + epoch) }).data())
  for (let b = 0; b < 8; b++) {
    const idx = iv.tensor(Int32Array.from(perm.slice(b * 8, b * 8 + 8)))
    yield [X.indexSelect(0, idx), Y.indexSelect(0, idx)]
  }
}
const step = ([x, y]: [iv.Tensor, iv.Tensor], m: Module) => (m.forward(x) as iv.Tensor).sub(y).square().mean()

/** Options for a run in `dir`; `lines` collects what fit prints. */
function run(
  dir: string,
  lines: string[],
  over: Partial<FitOptions<[iv.Tensor, iv.Tensor]>> = {},
): FitOptions<[iv.Tensor, iv.Tensor]> {
  iv.manualSeed(0)
  const model = new Linear(4, 1)
  return {
    model,
    optimizer: new SGD(model.parameters(), { lr: 0.05 }),
    batches,
    step,
    epochs: 4,
    checkpoint: { path: path.join(dir, 'checkpoint.safetensors'), every: 8 },
    log: {
      jsonlPath: path.join(dir, 'log.jsonl'),
      stream: { write: (s: string) => lines.push(s) > 0, isTTY: false } as unknown as NodeJS.WriteStream,
    },
    ...over,
  }
}

const logSteps = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { step: number }).step)

t.test('after a crash and a resume, log.jsonl holds every step once, and the resume is announced', async (t) => {
  const dir = t.testdir({})
  const lines: string[] = []
  // The first run dies at step 13 (a kill, as far as the files can tell): the last checkpoint is step 8.
  const crash = new Error('killed')
  await t.rejects(
    fit(
      run(dir, lines, {
        maxSteps: 30,
        onStep: ({ step }) => {
          if (step === 13) throw crash
        },
      }),
    ),
    crash,
  )
  t.same(
    logSteps(dir),
    [...Array(13).keys()].map((i) => i + 1),
  )
  const resumed = await fit(run(dir, lines, { maxSteps: 20, resume: true }))
  t.equal(resumed.resumedFrom, 8)
  t.same(
    logSteps(dir),
    [...Array(20).keys()].map((i) => i + 1),
    'steps 9-13 are not repeated',
  )
  t.ok(
    lines.some((l) => /resuming from step 8 \(.*checkpoint\.safetensors\)/.test(l)),
    `"resuming from step 8" is printed (${JSON.stringify(lines.slice(0, 2))})`,
  )
})

t.test('a checkpoint is written every `every` steps and always at the end', async (t) => {
  const dir = t.testdir({})
  const lines: string[] = []
  const saved: number[] = []
  const opts = run(dir, lines, {
    maxSteps: 10,
    checkpoint: { path: path.join(dir, 'checkpoint.safetensors'), every: 4 },
  })
  const done = await fit({
    ...opts,
    onStep: () => saved.push(fs.existsSync(opts.checkpoint!.path) ? iv.loadCheckpoint(opts.checkpoint!.path).step : 0),
  })
  t.equal(done.steps, 10)
  t.same(saved, [0, 0, 0, 0, 4, 4, 4, 4, 8, 8], 'every 4 steps while running (onStep runs before the save)')
  t.equal(iv.loadCheckpoint(opts.checkpoint!.path).step, 10, 'and the last step at the end')
  const again = await fit(run(dir, lines, { maxSteps: 10, resume: true }))
  t.equal(again.resumedFrom, 10, 'so a resume of a finished run has nothing left to do')
  t.same(again.losses, [])
})

t.test('a new run in an old folder starts clean and keeps the old files aside', async (t) => {
  const dir = t.testdir({})
  const lines: string[] = []
  await fit(run(dir, lines, { maxSteps: 12 }))
  const oldCheckpoint = fs.readFileSync(path.join(dir, 'checkpoint.safetensors'))
  const oldLog = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
  await fit(run(dir, lines, { maxSteps: 5 }))
  t.same(logSteps(dir), [1, 2, 3, 4, 5], 'the new log holds only the new run')
  t.equal(iv.loadCheckpoint(path.join(dir, 'checkpoint.safetensors')).step, 5, 'the checkpoint is the new run')
  t.same(
    fs.readFileSync(path.join(dir, 'checkpoint.previous-1.safetensors')),
    oldCheckpoint,
    'the old checkpoint is kept aside',
  )
  t.equal(fs.readFileSync(path.join(dir, 'log.previous-1.jsonl'), 'utf8'), oldLog, 'and so is the old log')
  t.ok(
    lines.some((l) => /moved the earlier run's files aside: .*checkpoint\.previous-1\.safetensors/.test(l)),
    'fit says where they went',
  )
  await fit(run(dir, lines, { maxSteps: 3 }))
  t.ok(fs.existsSync(path.join(dir, 'checkpoint.previous-2.safetensors')), 'a third run keeps both earlier ones')
  t.equal(iv.loadCheckpoint(path.join(dir, 'checkpoint.previous-1.safetensors')).step, 12)
})

t.test(
  'a log that cannot be written (a full disk) stops fit with an error naming the file',
  { skip: fs.existsSync('/dev/full') ? false : 'no /dev/full here' },
  async (t) => {
    // A link to /dev/full, so that a regression renames the link, never the device.
    const dir = t.testdir({ 'log.jsonl': t.fixture('symlink', '/dev/full') })
    const log = path.join(dir, 'log.jsonl')
    const opts = run(dir, [], {
      log: { jsonlPath: log, stream: { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream },
    })
    await t.rejects(fit(opts), {
      message: `fit (log.jsonlPath): cannot append to '${log}': no space left on the device (ENOSPC)`,
    })
  },
)

t.test('a log sent to a device stays that device: only regular files are moved aside', async (t) => {
  const dir = t.testdir({ 'log.jsonl': t.fixture('symlink', '/dev/null') })
  const log = path.join(dir, 'log.jsonl')
  await fit(
    run(dir, [], {
      epochs: 1,
      log: { jsonlPath: log, stream: { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream },
    }),
  )
  t.ok(fs.statSync(log).isCharacterDevice(), 'the log is still the link to /dev/null')
  t.notOk(fs.existsSync(path.join(dir, 'log.previous-1.jsonl')), 'nothing was moved aside')
})
