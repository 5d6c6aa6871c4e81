// Issue #17, item 6: memoryStats() counts what is live now, garbage collection included, even
// in a synchronous loop that never gives the event loop a turn.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'

const SRC = path.join(__dirname, '..', '..', 'src')

t.test('tensors the GC collected leave memoryStats() at once, without scope()', async (t) => {
  // One synchronous run: 200 tensors of 4 MiB made and dropped, then a full collection.
  const child = `
    const iv = require(${JSON.stringify(SRC)})
    const base = iv.memoryStats()
    let kept = iv.zeros([1024, 1024])
    for (let i = 0; i < 200; i++) iv.zeros([1024, 1024])
    const held = iv.memoryStats().bytes - base.bytes
    globalThis.gc()
    globalThis.gc()
    const after = iv.memoryStats()
    console.log(JSON.stringify({ held, bytes: after.bytes - base.bytes, blocks: after.blocks - base.blocks, arrayBuffers: process.memoryUsage().arrayBuffers, kept: kept.numel }))
  `
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '-e', child], {
    encoding: 'utf8',
    timeout: 120_000,
  })
  t.equal(r.status, 0, `the child ran (stderr: ${r.stderr.slice(-400)})`)
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
    held: number
    bytes: number
    blocks: number
    arrayBuffers: number
  }
  const MiB = 2 ** 20
  t.ok(out.held >= 4 * MiB, `the live tensor counts (${(out.held / MiB).toFixed(0)} MiB before the collection)`)
  t.equal(
    out.bytes,
    4 * MiB,
    `after gc() only the one referenced tensor is live (${(out.bytes / MiB).toFixed(1)} MiB reported)`,
  )
  t.equal(out.blocks, 1)
  t.ok(
    out.arrayBuffers < 64 * MiB,
    `and the process holds as little (${(out.arrayBuffers / MiB).toFixed(1)} MiB of ArrayBuffers)`,
  )
})
