// The same tiny model in PyTorch (scripts/fixtures/nn_layers.py) and here, with the same
// weights through safetensors: outputs, loss, every parameter gradient, the BatchNorm
// running statistics after a training step, and the eval-mode output must agree.
import t, { type Test } from 'tap'
import * as path from 'node:path'
import { arange } from '../../src/tensor/creation'
import type { Tensor } from '../../src/tensor/tensor'
import { silu } from '../../src/ops'
import { loadFile } from '../../src/io/safetensors'
import { assertClose } from '../helpers'
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  Embedding,
  GELU,
  GroupNorm,
  LayerNorm,
  Linear,
  MaxPool2d,
  Module,
  MultiheadAttention,
  Sequential,
} from '../../src/nn'

class Tiny extends Module {
  conv = new Conv2d(3, 8, 3, { padding: 1 })
  bn = new BatchNorm2d(8)
  pool = new MaxPool2d(2)
  gn = new GroupNorm(2, 8)
  up = new ConvTranspose2d(8, 4, 2, { stride: 2 })
  proj = new Linear(8, 16)
  pos = new Embedding(9, 16)
  attn = new MultiheadAttention(16, 4, { batchFirst: true })
  ln = new LayerNorm(16)
  mlp = new Sequential(new Linear(16, 32), new GELU(), new Linear(32, 16))
  head = new Linear(16, 5)

  override forward(x: Tensor): [Tensor, Tensor, Tensor] {
    const y = this.gn.forward(this.pool.forward(this.bn.forward(this.conv.forward(x)).relu()))
    const side = silu(this.up.forward(y))
    let s = this.proj.forward(y.flatten(2).transpose(1, 2)).add(this.pos.forward(arange(9)))
    const [a, attn] = this.attn.forward(s, s, s)
    s = this.ln.forward(s.add(a))
    s = s.add(this.mlp.forward(s))
    return [this.head.forward(s.mean(1)), side, attn as Tensor]
  }
}

const fx = loadFile(path.join(__dirname, '..', 'fixtures', 'nn_layers.safetensors'))

const maxAbs = (x: Tensor) => Array.from(x.data()).reduce((m, v) => Math.max(m, Math.abs(v)), 0)

/**
 * |a - b| <= 1e-4 |b| elementwise, plus an atol of 1e-6 of `scale` (by default the tensor's
 * largest value): float32 round-off on values near zero.
 */
function close(t: Test, got: Tensor, want: Tensor, what: string, scale = maxAbs(want)): void {
  t.same(got.shape, want.shape, `${what} shape`)
  assertClose(t, got.data(), want.data(), 1e-4, 1e-6 * scale, what)
}

t.test('forward, backward and BatchNorm statistics match PyTorch', async (t) => {
  const model = new Tiny()
  const sd: Record<string, Tensor> = {}
  for (const [k, v] of Object.entries(fx)) if (k.startsWith('model.')) sd[k.slice(6)] = v
  // strict: the key sets must be identical, so every name matches PyTorch's.
  model.loadStateDict(sd)
  t.same(Object.keys(model.stateDict()).sort(), Object.keys(sd).sort())
  model.train()
  const [out, side, attn] = model.forward(fx.input)
  close(t, out, fx.out, 'output')
  close(t, side, fx.side, 'side output')
  close(t, attn, fx.attn, 'attention weights')
  const loss = out.mul(fx.r_out).sum().add(side.mul(fx.r_side).sum()).add(attn.mul(fx.r_attn).sum())
  close(t, loss, fx.loss, 'loss')
  loss.backward()
  const named = model.namedParameters()
  t.equal(named.length, Object.keys(fx).filter((k) => k.startsWith('grad.')).length, 'one gradient per parameter')
  // Some gradients are zero in exact arithmetic (conv.bias before BatchNorm, the key part of
  // in_proj_bias under softmax's shift invariance), so both sides hold round-off there:
  // their tolerance is scaled by the model's largest gradient, not their own.
  const gradScale = Math.max(...named.map(([name]) => maxAbs(fx[`grad.${name}`])))
  for (const [name, p] of named) {
    t.ok(p.grad, `${name} has a gradient`)
    if (p.grad) close(t, p.grad, fx[`grad.${name}`], `grad ${name}`, gradScale)
  }
  close(t, model.bn.running_mean as Tensor, fx['after.bn.running_mean'], 'running_mean after the step')
  close(t, model.bn.running_var as Tensor, fx['after.bn.running_var'], 'running_var after the step')
  t.equal(model.bn.num_batches_tracked?.item(), fx['after.bn.num_batches_tracked'].item())
  model.eval()
  close(t, model.forward(fx.input)[0], fx.eval_out, 'eval-mode output')
})
