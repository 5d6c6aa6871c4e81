// Issue #17: a corrupt-input fuzz over every file reader (IDX raw and gzipped, the disk cache,
// COCO JSON, PNG masks, safetensors, shot lists), in a child process so that a crash shows as
// a signal instead of killing the test runner.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'

const MiB = 2 ** 20

t.test(
  'truncated and byte-flipped files are read or refused naming the file, within bounded memory, never a crash',
  async (t) => {
    const worker = path.join(__dirname, 'fuzz-worker.ts')
    const r = spawnSync(process.execPath, ['--import', 'tsx', worker, '150', '90000'], {
      encoding: 'utf8',
      timeout: 240_000,
    })
    t.equal(r.signal, null, `the child was not killed by a signal (stderr: ${r.stderr.slice(-500)})`)
    t.equal(r.status, 0, `the child exited cleanly (stderr: ${r.stderr.slice(-500)})`)
    const res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
      counts: Record<string, { cases: number; refused: number; accepted: number }>
      failures: string[]
      failureCount: number
      rssGrowth: number
      seconds: number
    }
    t.same(Object.keys(res.counts).sort(), [
      'cache index',
      'cache samples',
      'coco json',
      'idx',
      'idx.gz',
      'png mask',
      'safetensors',
      'shot list',
    ])
    for (const [name, c] of Object.entries(res.counts))
      t.ok(c.cases >= 50 && c.refused > 0, `${name}: ${c.cases} cases, ${c.refused} refused, ${c.accepted} read`)
    t.same(
      res.failures,
      [],
      `every refusal named its file and stayed within its memory bound (${res.failureCount} failures)`,
    )
    // Peak RSS is noisy (the heap and JIT grow too); this catches a large allocation slipping by.
    t.ok(res.rssGrowth < 128 * MiB, `peak RSS grew by ${(res.rssGrowth / MiB).toFixed(1)} MiB over the fuzz`)
    t.comment(`${Object.values(res.counts).reduce((s, c) => s + c.cases, 0)} cases in ${res.seconds.toFixed(1)} s`)
  },
)
