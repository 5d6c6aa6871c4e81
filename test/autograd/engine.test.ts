import t from 'tap'
import * as iv from '../../src'
import { record } from '../../src/autograd/node'

t.test('gradients accumulate on leaves and reduce over broadcasting', async (t) => {
  const x = iv.tensor([1, 2, 3], { requiresGrad: true })
  const y = x.mul(x).sum()
  y.backward()
  t.same(x.grad!.toArray(), [2, 4, 6])
  x.mul(3).sum().backward()
  t.same(x.grad!.toArray(), [5, 7, 9], 'second backward accumulates')
  const b = iv.tensor([[1], [2]], { requiresGrad: true })
  iv.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ])
    .add(b)
    .sum()
    .backward()
  t.same(b.grad!.toArray(), [[3], [3]], 'broadcast gradient summed back to [2, 1]')
})

t.test('a tensor used twice gets both contributions (diamond graph)', async (t) => {
  const x = iv.tensor([2], { requiresGrad: true })
  const h = x.mul(3)
  const y = h.mul(h).add(h) // y = 9x^2 + 3x -> dy/dx = 18x + 3
  y.backward()
  t.same(x.grad!.toArray(), [39])
  const z = iv.tensor([1, 2], { requiresGrad: true })
  z.add(z).sum().backward()
  t.same(z.grad!.toArray(), [2, 2], 'same tensor as both inputs')
})

t.test('seed gradients, non-scalar outputs and freed graphs', async (t) => {
  const x = iv.tensor([1, 2], { requiresGrad: true })
  const y = x.mul(2)
  t.throws(() => y.backward(), /single-element output/)
  const seed = iv.tensor([1, 10])
  y.backward(seed, { retainGraph: true })
  t.same(x.grad!.toArray(), [2, 20])
  t.same(seed.toArray(), [1, 10], 'the seed is not modified')
  y.backward(seed)
  t.same(x.grad!.toArray(), [4, 40])
  t.throws(() => y.backward(seed), /already freed/)
  t.throws(() => y.backward(iv.tensor([1, 2, 3])), /gradient shape \[3\] does not match/)
  t.throws(() => iv.tensor([1]).backward(), /does not require grad/)
})

t.test('noGrad, detach and requiresGrad_', async (t) => {
  const x = iv.tensor([1, 2], { requiresGrad: true })
  const y = iv.noGrad(() => x.mul(2))
  t.equal(y.requiresGrad, false)
  t.equal(y.gradFn, null)
  const d = x.detach()
  t.equal(d.requiresGrad, false)
  t.equal(d.storage, x.storage, 'detach shares memory')
  t.equal(x.mul(2).requiresGrad, true)
  t.throws(() => x.mul(2).requiresGrad_(), /only leaf tensors/)
  t.throws(() => iv.tensor([1], { dtype: 'int32' }).requiresGrad_(), /only floating-point/)
  const h = x.mul(2).retainGrad()
  h.sum().backward()
  t.same(h.grad!.toArray(), [1, 1], 'retainGrad keeps a non-leaf gradient')
})

t.test('gradcheck catches a wrong backward', async (t) => {
  const wrongSquare = (x: iv.Tensor) =>
    record(
      'wrong',
      iv.noGrad(() => x.mul(x)),
      [x],
      (g) => [g.mul(x)],
    ) // should be 2x
  const x = iv.randn([4], { dtype: 'float64' }).requiresGrad_()
  t.throws(() => iv.gradcheck(wrongSquare, [x]), /gradcheck: input 0 .* analytical .* vs numerical/)
  t.throws(() => iv.gradcheck((a) => a.mul(2), [iv.randn([2]).requiresGrad_()]), /use float64 inputs/)
})

t.test('a deep chain backpropagates without recursion limits', async (t) => {
  const x = iv.tensor([1], { dtype: 'float64', requiresGrad: true })
  let y = x
  for (let i = 0; i < 20000; i++) y = y.mul(1.0001)
  y.sum().backward()
  t.ok(Math.abs(x.grad!.item() - 1.0001 ** 20000) < 1e-6)
})
