import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'

t.test('every native entry point rejects malformed arguments with an Error, never a crash', async (t) => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fuzz-worker.js')], { encoding: 'utf8', timeout: 300_000 })
  t.equal(r.signal, null, `the child was not killed by a signal (stderr: ${r.stderr.slice(-500)})`)
  t.equal(r.status, 0, `the child exited cleanly (stderr: ${r.stderr.slice(-500)})`)
  const line = r.stdout.trim().split('\n').pop() ?? '{}'
  const res = JSON.parse(line) as { calls: number; errors: number; failures: string[]; failureCount: number }
  t.ok(res.calls > 100, `made ${res.calls} calls`)
  t.same(res.failures, [], 'every malformed call threw an Error')
  t.equal(res.errors, res.calls)
})
