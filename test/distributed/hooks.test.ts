// The two autograd hooks DistributedDataParallel rests on (src/autograd/engine.ts): a leaf's
// post-accumulate-grad hook fires once per backward as soon as its gradient is final, while
// backward is still running; a queued callback runs when backward has finished.
import t from 'tap'
import * as iv from '../../src'
import { queueCallback, registerPostAccumulateGradHook } from '../../src/autograd/engine'

const values = (x: iv.Tensor | null) => (x ? Array.from(x.data()) : null)

t.test('fires once, with the whole gradient of a leaf used twice', async (t) => {
  const x = iv.tensor([1, 2, 3], { dtype: 'float64' }).requiresGrad_()
  const seen: (number[] | null)[] = []
  registerPostAccumulateGradHook(x, (leaf) => seen.push(values(leaf.grad)))
  x.mul(x).add(x.mul(3)).sum().backward()
  t.same(seen, [[5, 7, 9]], 'once, with d/dx (x^2 + 3x) = 2x + 3')
  x.mul(2).sum().backward()
  t.same(seen[1], [7, 9, 11], 'the next backward: accumulated onto .grad')
})

t.test("a late layer's hook fires before backward reaches an early layer", async (t) => {
  const w1 = iv.randn([4, 4]).requiresGrad_()
  const w2 = iv.randn([4, 2]).requiresGrad_()
  const events: string[] = []
  registerPostAccumulateGradHook(w2, () => events.push(`w2 ready; w1.grad ${w1.grad ? 'set' : 'still null'}`))
  registerPostAccumulateGradHook(w1, () => events.push('w1 ready'))
  iv.randn([3, 4]).matmul(w1).relu().matmul(w2).square().sum().backward()
  t.same(events, ['w2 ready; w1.grad still null', 'w1 ready'])
})

t.test('a leaf that is the root itself', async (t) => {
  const x = iv.tensor([1, 2]).requiresGrad_()
  let got: number[] | null = null
  registerPostAccumulateGradHook(x, (leaf) => (got = values(leaf.grad)))
  x.backward(iv.tensor([3, 4]))
  t.same(got, [3, 4])
})

t.test('remove(), and what cannot be hooked', async (t) => {
  const x = iv.tensor([1, 2]).requiresGrad_()
  let calls = 0
  const handle = registerPostAccumulateGradHook(x, () => calls++)
  x.sum().backward()
  handle.remove()
  x.sum().backward()
  t.equal(calls, 1, 'no call after remove()')
  t.throws(
    () => registerPostAccumulateGradHook(x.mul(2), () => undefined),
    /registerPostAccumulateGradHook: only a leaf that requires grad/,
  )
  t.throws(() => registerPostAccumulateGradHook(iv.tensor([1]), () => undefined), /only a leaf that requires grad/)
  t.throws(() => queueCallback(() => undefined), /queueCallback: no backward pass is running/)
})

t.test('queued callbacks run after the whole backward, in order, under noGrad', async (t) => {
  const a = iv.tensor([2]).requiresGrad_()
  const b = iv.tensor([5]).requiresGrad_()
  const events: string[] = []
  registerPostAccumulateGradHook(b, () => {
    queueCallback(() => {
      events.push(`first: a.grad ${values(a.grad)}, grad mode ${iv.isGradEnabled()}`)
      queueCallback(() => events.push('queued by a callback'))
    })
  })
  a.mul(b).mul(a).sum().backward()
  t.same(events, ['first: a.grad 20, grad mode false', 'queued by a callback'])
  events.length = 0
  a.sum().backward()
  t.same(events, [], "a backward that does not reach b runs none of b's callbacks")
})
