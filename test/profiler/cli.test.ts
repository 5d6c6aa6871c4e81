import t from 'tap'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { takeProfileFlag } from '../../src/profiler/cli'
import { trainCommand } from '../../src/cli/train'
import { isProfiling } from '../../src/profiler'

t.test('--profile [PATH] comes out of argv before the command parses it', (t) => {
  t.same(takeProfileFlag(['--steps', '3']), { argv: ['--steps', '3'], profile: null })
  t.same(takeProfileFlag(['--profile', '--steps', '3']), { argv: ['--steps', '3'], profile: {} })
  t.same(takeProfileFlag(['--steps', '3', '--profile']), { argv: ['--steps', '3'], profile: {} })
  t.same(takeProfileFlag(['--profile', 'p.json', '--steps', '3']), {
    argv: ['--steps', '3'],
    profile: { trace: 'p.json' },
  })
  t.same(takeProfileFlag(['--profile=p.json', '--resume']), { argv: ['--resume'], profile: { trace: 'p.json' } })
  t.throws(() => takeProfileFlag(['--profile=']), /--profile=: expected a trace file path/)
  t.end()
})

t.test('train --profile prints the table to stderr and writes the trace', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-cli-profile-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const trace = path.join(dir, 'trace.json')
  const errors: string[] = []
  const log = console.log
  const error = console.error
  console.log = () => undefined
  console.error = (...a: unknown[]) => void errors.push(a.join(' '))
  let code: number
  try {
    code = await trainCommand([
      '--data',
      'digits',
      '--steps',
      '1',
      '--batch-size',
      '8',
      '--out',
      path.join(dir, 'run'),
      '--profile',
      trace,
    ])
  } finally {
    console.log = log
    console.error = error
  }
  t.equal(code, 0)
  t.equal(isProfiling(), false)
  const table = errors.join('\n')
  t.match(table, /conv2d\s+forward\s+kernel/)
  t.match(table, /conv2d\.backward\s+backward\s+backward/)
  const events = (JSON.parse(fs.readFileSync(trace, 'utf8')) as { traceEvents: { ph: string }[] }).traceEvents
  t.ok(events.filter((e) => e.ph === 'X').length > 100)
})
