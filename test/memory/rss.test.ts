import t from 'tap'
import * as iv from '../../src'

t.test('2,000 training steps of a small model: RSS and native memory stay flat', async (t) => {
  iv.manualSeed(0)
  const w1 = iv.randn([64, 32]).mul(0.1).requiresGrad_()
  const b1 = iv.zeros([64]).requiresGrad_()
  const w2 = iv.randn([10, 64]).mul(0.1).requiresGrad_()
  const b2 = iv.zeros([10]).requiresGrad_()
  const params = [w1, b1, w2, b2]
  const x = iv.randn([128, 32])
  const target = iv.randn([128, 10])
  const step = (): number =>
    iv.scope(() => {
      const h = iv.linear(x, w1, b1).gelu()
      const loss = iv.linear(h, w2, b2).sub(target).square().mean()
      loss.backward()
      iv.noGrad(() => {
        for (const p of params) {
          p.addInPlace(p.grad!, -0.05)
          p.grad!.dispose()
          p.grad = null
        }
      })
      return loss.item()
    })
  const first = step()
  for (let i = 0; i < 199; i++) step()
  const rss0 = process.memoryUsage().rss
  const native0 = iv.memoryStats()
  let last = first
  for (let i = 0; i < 2000; i++) last = step()
  const grown = (process.memoryUsage().rss - rss0) / 2 ** 20
  t.ok(last < first, `the model trains (loss ${first.toFixed(4)} -> ${last.toFixed(4)})`)
  t.ok(grown < 50, `RSS grew by ${grown.toFixed(1)} MB over 2,000 steps`)
  t.same(iv.memoryStats(), native0, 'every native block made inside a step was freed')
})
