import t from 'tap'
import * as iv from '../../src'
import { collectGarbage } from '../helpers'

t.test('dispose frees at once; views keep the memory alive', async (t) => {
  collectGarbage()
  const before = iv.memoryStats().bytes
  const x = iv.zeros([1024, 256])
  t.ok(iv.memoryStats().bytes - before >= 1024 * 1024)
  const v = x.reshape(-1)
  x.dispose()
  t.ok(iv.memoryStats().bytes - before >= 1024 * 1024, 'a live view holds the storage')
  t.equal(v.sum().item(), 0)
  v.dispose()
  t.ok(iv.memoryStats().bytes - before < 1024, 'freed once the last view goes')
  t.throws(() => v.data(), /was disposed/)
  t.throws(() => x.add(1), /was disposed/)
  x.dispose()
})

t.test('scope disposes what it made, keeps what it returns', async (t) => {
  collectGarbage()
  const before = iv.memoryStats().blocks
  const outer = iv.ones([4])
  const [kept, obj] = iv.scope(() => {
    const a = outer.mul(2)
    const b = a.add(1)
    a.exp()
    return [b, { c: b.mul(2) }]
  })
  t.same(kept.toArray(), [3, 3, 3, 3])
  t.same(obj.c.toArray(), [6, 6, 6, 6])
  t.equal(iv.memoryStats().blocks - before, 3, 'outer + two returned tensors remain')
  t.equal(outer.disposed, false, 'tensors from outside are untouched')
  const k = iv.scope(() => {
    const inner = iv.keep(iv.zeros([2]))
    iv.zeros([3])
    return inner.numel
  })
  t.equal(k, 2)
  t.throws(
    () =>
      iv.scope(() => {
        iv.zeros([8])
        throw new Error('boom')
      }),
    /boom/,
  )
  t.equal(iv.memoryStats().blocks - before, 4, 'a throwing scope still frees; keep() survives')
})

t.test('nested scopes hand returned tensors to the parent', async (t) => {
  collectGarbage()
  const before = iv.memoryStats().blocks
  iv.scope(() => {
    const inner = iv.scope(() => iv.zeros([2]).add(1))
    t.equal(inner.disposed, false)
    return null
  })
  t.equal(iv.memoryStats().blocks, before)
})

t.test('leaf gradients made in a scope outlive it', async (t) => {
  const w = iv.randn([3, 3], { requiresGrad: true })
  iv.scope(() => {
    w.matmul(w).sum().backward()
  })
  t.equal(w.grad!.disposed, false)
  t.equal(w.grad!.shape.length, 2)
})
