// Latency: each distinct layer shape is timed once per kernel set, kept on disk, and never
// re-timed, by this table or a later one reading the same cache.
import t from 'tap'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { defaultGenerator } from '../../src'
import { metaNetConfig } from '../../src/models/metanet/config'
import { planBlocks } from '../../src/models/metanet/metanet'
import { LatencyTable, kernelSet, median } from '../../src/search'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-latency-'))
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))

t.test('median', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.throws(() => median([]), /median: no values/)
})

t.test('layers are timed once per shape and cached on disk', async (t) => {
  const cacheFile = path.join(dir, 'cache.json')
  const config = metaNetConfig('mn-t')
  // Layers: stem, blocks, head; repeated blocks of one shape share a timing.
  const plan = planBlocks(config)
  let side = 16
  const shapes = new Set(
    plan.map((b) => {
      const key = `${b.type}:${JSON.stringify(b.spec)}@${side}`
      side = Math.floor((side - 1) / b.spec.stride) + 1
      return key
    }),
  )
  const table = new LatencyTable({ cacheFile, repeats: 2 })
  const rng = defaultGenerator.getState()
  const first = table.measure(config, 32)
  t.same(defaultGenerator.getState(), rng, 'timing leaves the default generator where it was')
  t.equal(first.layers, plan.length + 2, 'stem + blocks + head')
  t.equal(first.timed, shapes.size + 2, `${shapes.size} distinct block shapes timed once each, plus stem and head`)
  t.ok(first.ms > 0 && Number.isFinite(first.ms), `latency ${first.ms.toFixed(3)} ms`)

  const again = table.measure(config, 32)
  t.equal(again.timed, 0, 'nothing re-timed')
  t.equal(again.ms, first.ms, 'the same cached sum')

  const reread = new LatencyTable({ cacheFile, repeats: 2 })
  const fromDisk = reread.measure(config, 32)
  t.equal(fromDisk.timed, 0, 'a new table reading the cache re-times nothing')
  t.equal(fromDisk.ms, first.ms)

  // A wider head: only the head layer is new.
  const wider = reread.measure({ ...config, headWidth: 256 }, 32)
  t.equal(wider.timed, 1, 'only the changed layer is timed')

  // Another batch size is another shape.
  t.equal(
    new LatencyTable({ cacheFile, repeats: 2, batch: 2 }).measure(config, 32).timed,
    first.timed,
    'batch 2 is timed afresh',
  )

  const saved = JSON.parse(fs.readFileSync(cacheFile, 'utf8'))
  t.same(Object.keys(saved.entries), [kernelSet()], 'entries are filed under the kernel set')
  t.match(kernelSet(), /^cpu:\w+:\d+t$/)
})

t.test('bad input and a corrupt cache are named', async (t) => {
  const corrupt = path.join(dir, 'corrupt.json')
  fs.writeFileSync(corrupt, '{"version": 1, "entries": ')
  t.throws(() => new LatencyTable({ cacheFile: corrupt }), /LatencyTable: the cache '.*corrupt.json' is not valid JSON/)
  const other = path.join(dir, 'other.json')
  fs.writeFileSync(other, '{"hello": 1}')
  t.throws(() => new LatencyTable({ cacheFile: other }), /is not a latency cache \(version 1\)/)
  t.throws(() => new LatencyTable({ repeats: 0 }), /LatencyTable: repeats must be a positive integer, got 0/)
  t.throws(() => new LatencyTable().measure(metaNetConfig('mn-t'), 0), /imageSize must be a positive integer, got 0/)
})
