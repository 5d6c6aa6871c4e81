// The fused optimizer steps on CUDA against the CPU backend: a few steps of SGD (momentum,
// nesterov), Adam, AdamW (amsgrad) and LARS on the same gradients leave the same parameters.
import t from 'tap'
import * as iv from '../../src'
import { FLOATS, assertParity, noGpu, rnd } from './parity'

type Make = (params: iv.Tensor[]) => { step(): void }

const optimizers: [string, Make][] = [
  ['SGD momentum', (p) => new iv.SGD(p, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 })],
  ['SGD nesterov', (p) => new iv.SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true })],
  ['Adam', (p) => new iv.Adam(p, { lr: 1e-2, weightDecay: 1e-3 })],
  ['AdamW amsgrad', (p) => new iv.AdamW(p, { lr: 1e-2, weightDecay: 0.05, amsgrad: true })],
  ['LARS', (p) => new iv.LARS(p, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 })],
]

t.test('optimizer steps', { skip: noGpu }, async (t) => {
  for (const dtype of FLOATS)
    for (const [name, make] of optimizers) {
      const init = rnd([257, 33], dtype)
      const grads = [0, 1, 2].map(() => rnd([257, 33], dtype))
      const run = (device: 'cpu' | 'cuda') => {
        const p = init.to(device).requiresGrad_()
        const opt = make([p])
        for (const g of grads) {
          p.grad = g.to(device)
          opt.step()
        }
        return p.detach()
      }
      assertParity(t, `${name} ${dtype}`, run('cuda'), run('cpu'))
    }
})

t.test('clipGradNorm_ scales the same gradients alike', { skip: noGpu }, async (t) => {
  const grads = [rnd([100, 7], 'float32'), rnd([13], 'float32')]
  const clip = (device: 'cpu' | 'cuda') => {
    const ps = grads.map((g) => {
      const p = iv.zeros(g.shape, { device }).requiresGrad_()
      p.grad = g.to(device)
      return p
    })
    const norm = iv.clipGradNorm_(ps, 1.0)
    return { norm, grads: ps.map((p) => p.grad as iv.Tensor) }
  }
  const [ref, got] = [clip('cpu'), clip('cuda')]
  t.ok(Math.abs(got.norm - ref.norm) <= 1e-5 * ref.norm, `total norm ${got.norm} vs ${ref.norm}`)
  ref.grads.forEach((r, i) => assertParity(t, `clipped gradient ${i}`, got.grads[i], r))
})
