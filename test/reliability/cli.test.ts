// Issue #17, items 11 and 12 (the command line): help and version on stdout, bad usage on
// stderr with exit 2, short runs and small datasets that work or say why, and one default run
// folder per model and data.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { main } from '../../src/cli/main'

const MAIN = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts')
const VERSION = (
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }
).version

function cli(args: string[], cwd = process.cwd()): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd, encoding: 'utf8', timeout: 240_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

// A world small enough for a few steps in seconds.
const TINY = ['--image-size', '32', '--train-size', '32', '--test-size', '16', '--batch-size', '16', '--workers', '0']

/** Runs main() in this process, capturing what it prints. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = []
  const err: string[] = []
  const { log, error } = console
  console.log = (...a: unknown[]) => void out.push(`${a.join(' ')}\n`)
  console.error = (...a: unknown[]) => void err.push(`${a.join(' ')}\n`)
  try {
    return { code: await main(args), stdout: out.join(''), stderr: err.join('') }
  } finally {
    Object.assign(console, { log, error })
  }
}

t.test('help, version and bad usage', async (t) => {
  for (const args of [['--help'], ['help'], ['-h']]) {
    const r = await inProcess(args)
    t.equal(r.code, 0, `${args.join(' ')} exits 0`)
    t.match(
      r.stdout,
      /usage: intern-vision <command>[\s\S]*train[\s\S]*evaluate[\s\S]*info/,
      `${args.join(' ')} lists the commands on stdout`,
    )
    t.equal(r.stderr, '')
  }
  for (const args of [
    ['train', '--help'],
    ['help', 'train'],
    ['info', '--help'],
    ['evaluate', '--help'],
  ]) {
    const r = await inProcess(args)
    t.equal(r.code, 0, `${args.join(' ')} exits 0`)
    t.match(
      r.stdout,
      new RegExp(`^usage: intern-vision ${args.includes('help') ? 'train' : args[0]}`),
      `${args.join(' ')} prints that command's usage on stdout`,
    )
  }
  const option = await inProcess(['train', '--bogus'])
  t.equal(option.code, 2)
  t.match(option.stderr, /intern-vision train: Unknown option '--bogus'/)
  const value = await inProcess(['train', '--steps', 'many'])
  t.equal(value.code, 2)
  t.match(value.stderr, /--steps must be an integer >= 1, got 'many'/)
  const none = await inProcess([])
  t.equal(none.code, 2, 'no command is a usage error')
  t.match(none.stderr, /usage: intern-vision/)
  // The installed entry point, end to end: exit codes and streams.
  const version = cli(['--version'])
  t.equal(version.code, 0)
  t.equal(version.stdout.trim(), VERSION, '--version prints the package version')
  const unknown = cli(['bogus'])
  t.equal(unknown.code, 2)
  t.equal(unknown.stdout, '')
  t.match(unknown.stderr, /unknown command 'bogus'/)
})

t.test('a run of a few steps works; a batch larger than the data says so', async (t) => {
  const dir = t.testdir({})
  const short = cli(['train', ...TINY, '--steps', '3', '--out', path.join(dir, 'short')])
  t.equal(short.code, 0, `--steps 3 trains (stderr: ${short.stderr.slice(-300)})`)
  t.match(short.stdout, /test accuracy .* after 3 steps/)
  t.equal((JSON.parse(fs.readFileSync(path.join(dir, 'short', 'report.json'), 'utf8')) as { steps: number }).steps, 3)
  const big = cli(['train', ...TINY, '--batch-size', '64', '--steps', '3', '--out', path.join(dir, 'big')])
  t.equal(big.code, 2)
  t.match(big.stderr, /--batch-size 64 is larger than the 32 training images of world/)
})

t.test('runs of different models default to different folders and resume their own', async (t) => {
  const cwd = t.testdir({})
  const first = cli(['train', ...TINY, '--steps', '2'], cwd)
  t.equal(first.code, 0, `the default run (stderr: ${first.stderr.slice(-300)})`)
  const other = cli(['train', ...TINY, '--steps', '3', '--model', 'resnet18', '--resume'], cwd)
  t.equal(other.code, 0, `a resnet18 run with --resume (stderr: ${other.stderr.slice(-300)})`)
  t.match(
    other.stderr,
    /no checkpoint at .*runs\/resnet18-world\/checkpoint\.safetensors yet/,
    'it does not pick up the mn-t checkpoint',
  )
  t.ok(fs.existsSync(path.join(cwd, 'runs', 'mn-t-world', 'checkpoint.safetensors')))
  t.ok(fs.existsSync(path.join(cwd, 'runs', 'resnet18-world', 'checkpoint.safetensors')))
  const more = cli(['train', ...TINY, '--steps', '3', '--resume'], cwd)
  t.equal(more.code, 0)
  t.match(
    more.stderr,
    /resuming from step 2 \(.*runs\/mn-t-world\/checkpoint\.safetensors\)/,
    'the mn-t run resumes from its own final checkpoint',
  )
  const steps = fs
    .readFileSync(path.join(cwd, 'runs', 'mn-t-world', 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { step: number }).step)
  t.same(steps, [1, 2, 3], 'its log holds each step once')
})
