import t from 'tap'
import { mixSeed, Rng } from '../../src/data/rng'

t.test('same seed, same stream; different seeds differ', async (t) => {
  const a = new Rng(42)
  const b = new Rng(42)
  const c = new Rng(43)
  const xa = Array.from({ length: 100 }, () => a.nextUint32())
  const xb = Array.from({ length: 100 }, () => b.nextUint32())
  const xc = Array.from({ length: 100 }, () => c.nextUint32())
  t.same(xa, xb)
  t.not(xa.join(), xc.join())
})

t.test('derive depends on every key and on key order', async (t) => {
  t.equal(mixSeed(1, 2, 3), mixSeed(1, 2, 3))
  t.not(mixSeed(1, 2, 3), mixSeed(1, 3, 2))
  t.not(mixSeed(1, 2), mixSeed(1, 2, 0))
  t.not(mixSeed(2 ** 40, 1), mixSeed(0, 1), 'high bits of large seeds count')
  t.equal(Rng.derive(5, 9).next(), Rng.derive(5, 9).next())
})

t.test('uniform draws look uniform and stay in range', async (t) => {
  const r = new Rng(7)
  const bins = new Array(10).fill(0)
  for (let i = 0; i < 20000; i++) {
    const x = r.next()
    if (!(x >= 0 && x < 1)) t.fail(`out of range ${x}`)
    bins[Math.floor(x * 10)]++
  }
  for (const b of bins) t.ok(Math.abs(b - 2000) < 200, `bin count ${b} near 2000`)
  const ints = new Set(Array.from({ length: 500 }, () => r.int(3, 7)))
  t.same([...ints].sort(), [3, 4, 5, 6])
  let s = 0
  let s2 = 0
  for (let i = 0; i < 20000; i++) {
    const z = r.normal()
    s += z
    s2 += z * z
  }
  t.ok(Math.abs(s / 20000) < 0.05, 'normal mean ~ 0')
  t.ok(Math.abs(s2 / 20000 - 1) < 0.05, 'normal variance ~ 1')
})

t.test('permutation is a permutation; fork is independent of child draws', async (t) => {
  const p = new Rng(1).permutation(1000)
  t.same(
    Array.from(p).sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  )
  const a = new Rng(3)
  const b = new Rng(3)
  const fa = a.fork()
  fa.next()
  fa.next()
  b.fork()
  t.equal(a.next(), b.next(), 'parent continues the same however much the child drew')
})

t.test('bad input names the function', async (t) => {
  t.throws(() => new Rng(1.5), /Rng: seeds and keys must be safe integers, got 1.5/)
  t.throws(() => new Rng(1).int(3, 3), /Rng.int: need high > low/)
  t.throws(() => new Rng(1).pick([]), /Rng.pick/)
})
