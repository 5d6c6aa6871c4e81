// ResNet-18 (CIFAR layout) and MetaNet mn-t against the PyTorch reference modules of
// scripts/fixtures/models.py: same parameter names, same weights (hash-init.ts), one
// training-mode forward and backward of a cross-entropy loss, then eval-mode outputs.
// Tolerance, float32 throughout: outputs within 1e-4 per element (entries below the tensor's
// RMS judged against the RMS); each gradient within 1e-4 of the reference in norm,
// |g - g_ref| <= 1e-4 |g_ref|. Gradients that are zero by construction (a bias feeding a
// training-mode BatchNorm, which removes any constant shift) are round-off on both sides:
// they must stay below 1e-4 of the model's gradient RMS. ResNet-18's gradients are kept as
// summaries (the full ones would be 45 MB), held to what the norm bound implies:
// |r . (g - g_ref)| <= 1e-4 |r| |g_ref| for any vector r.
import t, { type Test } from 'tap'
import * as path from 'node:path'
import { crossEntropy, type Tensor } from '../../src'
import { loadFile } from '../../src/io/safetensors'
import type { Module } from '../../src/nn'
import { MetaNet } from '../../src/models/metanet'
import { ResNet } from '../../src/models/resnet'
import { hashInit, hashUniform } from './hash-init'

const fx = loadFile(path.join(__dirname, '..', 'fixtures', 'models.safetensors'))
const RTOL = 1e-4

const f64 = (x: Tensor): Float64Array => Float64Array.from(x.data() as ArrayLike<number>)
const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0))

/** Worst |a - b| / (RTOL * max(|b|, rms(b))): at most 1 passes. */
function worstRatio(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const rms = norm(b) / Math.sqrt(Math.max(b.length, 1))
  let worst = 0
  for (let i = 0; i < b.length; i++)
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / (RTOL * Math.max(Math.abs(b[i]), rms, 1e-30)))
  return worst
}

function close(t: Test, got: Tensor, want: Tensor, what: string): number {
  t.same(got.shape, want.shape, `${what}: shape`)
  const r = worstRatio(f64(got), f64(want))
  t.ok(r <= 1, `${what}: worst error ${(r * RTOL).toExponential(2)} relative (limit ${RTOL})`)
  return r * RTOL
}

/** Checks that both sides start from identical weights (hash-init.ts against the script's). */
function checkWeights(t: Test, model: Module, prefix: string): void {
  const sd = model.stateDict()
  const sums = Object.keys(fx).filter((k) => k.startsWith(`${prefix}.wsum.`))
  t.same(
    Object.keys(sd)
      .filter((k) => sd[k].dtype === 'float32')
      .sort(),
    sums.map((k) => k.slice(prefix.length + 6)).sort(),
    `${prefix}: the state-dict names are PyTorch's`,
  )
  let bad = 0
  for (const k of sums) {
    const mine = f64(sd[k.slice(prefix.length + 6)]).reduce((a, b) => a + b, 0)
    const want = fx[k].item()
    if (Math.abs(mine - want) > 1e-9 * Math.max(1, Math.abs(want))) bad++
  }
  t.equal(bad, 0, `${prefix}: every initial tensor matches the reference's checksum`)
}

function trainStep(model: ResNet | MetaNet, prefix: string): Tensor {
  model.train()
  const out = model.forward(fx[`${prefix}.input`])
  const loss = crossEntropy(out, fx[`${prefix}.target`])
  loss.backward()
  return out
}

t.test('ResNet-18 (CIFAR layout) matches PyTorch: forward, loss, every gradient, eval output', async (t) => {
  const p = 'resnet18'
  const model = new ResNet('resnet18', { numClasses: 10, cifar: true })
  hashInit(model)
  checkWeights(t, model, p)
  const out = trainStep(model, p)
  const errs: number[] = [close(t, out, fx[`${p}.out`], 'logits')]
  errs.push(close(t, crossEntropy(out, fx[`${p}.target`]), fx[`${p}.loss`], 'loss'))
  let worstGrad = 0
  for (const [name, param] of model.namedParameters()) {
    const g = param.grad
    if (!g) {
      t.fail(`${name} has no gradient`)
      continue
    }
    const flat = f64(g)
    const gnorm = fx[`${p}.gnorm.${name}`].item()
    const rel = (x: number, want: number, rnorm: number) => Math.abs(x - want) / (RTOL * rnorm * gnorm)
    let w = Math.abs(norm(flat) - gnorm) / (RTOL * gnorm)
    const rows = g.shape[0]
    const per = flat.length / rows
    const chan = f64(fx[`${p}.gchan.${name}`])
    for (let r = 0; r < rows; r++) {
      let s = 0
      for (let j = 0; j < per; j++) s += flat[r * per + j]
      w = Math.max(w, rel(s, chan[r], Math.sqrt(per)))
    }
    const proj = f64(fx[`${p}.gproj.${name}`])
    for (let k = 0; k < 4; k++) {
      const { u } = hashUniform(`proj${k}:${name}`, flat.length)
      let s = 0
      let rr = 0
      for (let i = 0; i < flat.length; i++) {
        s += flat[i] * (2 * u[i] - 1)
        rr += (2 * u[i] - 1) ** 2
      }
      w = Math.max(w, rel(s, proj[k], Math.sqrt(rr)))
    }
    const { bits } = hashUniform(`sample:${name}`, 32)
    const sample = f64(fx[`${p}.gsample.${name}`])
    const rms = gnorm / Math.sqrt(flat.length)
    bits.forEach(
      (b, j) =>
        (w = Math.max(w, Math.abs(flat[b % flat.length] - sample[j]) / (RTOL * Math.max(Math.abs(sample[j]), rms)))),
    )
    if (!(w <= 1)) t.fail(`grad ${name}: error ${(w * RTOL).toExponential(2)} relative (limit ${RTOL})`)
    worstGrad = Math.max(worstGrad, w * RTOL)
  }
  t.ok(
    worstGrad <= RTOL,
    `all ${model.namedParameters().length} gradients: worst error ${worstGrad.toExponential(2)} relative`,
  )
  model.eval()
  errs.push(close(t, model.forward(fx[`${p}.input`]), fx[`${p}.eval_out`], 'eval-mode logits'))
  t.comment(
    `resnet18: logits/loss/eval errors ${errs.map((e) => e.toExponential(2)).join(', ')}; worst gradient ${worstGrad.toExponential(2)}`,
  )
})

t.test('MetaNet mn-t matches PyTorch: forward, loss, every gradient, eval output and features', async (t) => {
  const p = 'mnt'
  const model = new MetaNet('mn-t', { numClasses: 10 })
  hashInit(model)
  checkWeights(t, model, p)
  const out = trainStep(model, p)
  const errs: number[] = [close(t, out, fx[`${p}.out`], 'logits')]
  errs.push(close(t, crossEntropy(out, fx[`${p}.target`]), fx[`${p}.loss`], 'loss'))
  const named = model.namedParameters()
  t.equal(
    named.length,
    Object.keys(fx).filter((k) => k.startsWith(`${p}.grad.`)).length,
    'one reference gradient per parameter',
  )
  const refs = named.map(([name]) => fx[`${p}.grad.${name}`])
  const total = refs.reduce((n, g) => n + (g ? g.numel : 0), 0)
  const globalRms = Math.sqrt(refs.reduce((s, g) => s + (g ? norm(f64(g)) ** 2 : 0), 0) / total)
  let worstGrad = 0
  let worstName = ''
  let structuralZeros = 0
  named.forEach(([name, param], i) => {
    const want = refs[i]
    if (!param.grad || !want) {
      t.fail(`${name}: missing gradient (ours ${!!param.grad}, reference ${!!want})`)
      return
    }
    const a = f64(param.grad)
    const b = f64(want)
    const bNorm = norm(b)
    if (bNorm / Math.sqrt(b.length) < RTOL * globalRms) {
      structuralZeros++
      const rms = norm(a) / Math.sqrt(a.length)
      if (!(rms < RTOL * globalRms))
        t.fail(`grad ${name}: the reference is ~0 (round-off) but ours has RMS ${rms.toExponential(2)}`)
      return
    }
    const r = norm(a.map((v, j) => v - b[j])) / bNorm
    if (!(r <= RTOL)) t.fail(`grad ${name}: error ${r.toExponential(2)} relative (limit ${RTOL})`)
    if (r > worstGrad) [worstGrad, worstName] = [r, name]
  })
  t.ok(
    structuralZeros < named.length / 4,
    `${structuralZeros} gradients are zero by construction (biases before a training-mode BatchNorm)`,
  )
  t.ok(
    worstGrad <= RTOL,
    `all ${named.length} gradients: worst error ${worstGrad.toExponential(2)} relative (${worstName})`,
  )
  model.eval()
  errs.push(close(t, model.forward(fx[`${p}.input`]), fx[`${p}.eval_out`], 'eval-mode logits'))
  // The fixture keeps the first two samples of each feature map.
  model
    .forwardFeatures(fx[`${p}.input`])
    .forEach((f, i) => errs.push(close(t, f.narrow(0, 0, 2), fx[`${p}.eval_feat.${i}`], `eval forwardFeatures[${i}]`)))
  t.comment(
    `mn-t: logits/loss/eval/feature errors ${errs.map((e) => e.toExponential(2)).join(', ')}; worst gradient ${worstGrad.toExponential(2)} (${worstName})`,
  )
})
