// Losses. crossEntropy is one fused native kernel each way (softmax and loss together, the
// probabilities recomputed in backward from a saved logsumexp). The elementwise losses are
// one fused kernel each way too where the backend has it (the CPU: pointwiseLoss), and
// compositions of elementwise ops elsewhere; binaryCrossEntropyWithLogits and the norms get
// explicit gradients so that they stay exact where a composition has a kink (x = 0, a zero
// vector).
import { autocastFloat32 } from './autocast'
import { record } from '../autograd/node'
import { isFloating } from '../tensor/dtype'
import { broadcastShapes, normalizeDim, numelOf, sameShape, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { full } from '../tensor/creation'
import { noGrad } from '../autograd/grad-mode'
import { checkSameDevice, checkTensor, expandTo, kernelView, sumTo } from './util'
import { where } from './elementwise'

export type Reduction = 'mean' | 'sum' | 'none'

function reduce(op: string, loss: Tensor, reduction: Reduction | undefined): Tensor {
  switch (reduction ?? 'mean') {
    case 'mean':
      return loss.mean()
    case 'sum':
      return loss.sum()
    case 'none':
      return loss
    default:
      throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${reduction}'`)
  }
}

function checkReduction(op: string, reduction: Reduction | undefined): Reduction {
  const r = reduction ?? 'mean'
  if (r !== 'mean' && r !== 'sum' && r !== 'none')
    throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${reduction}'`)
  return r
}

type PointwiseKind = 'mse' | 'l1' | 'smoothL1' | 'bceWithLogits'

interface PointwiseExtras {
  weight?: Tensor | null
  posWeight?: Tensor | null
  beta?: number
}

const hasFusedLoss = (x: Tensor): boolean => x.backend.has('pointwiseLoss')

/**
 * An elementwise loss through the fused kernels: the operands are broadcast to one shape and
 * made contiguous (free when they already are), 'mean' and 'sum' come back from the kernel as
 * a number, and the backward pass writes x's and y's gradients in one sweep. Gradients of
 * BCE's weight and posWeight (rarely wanted) are composed from the per-element terms.
 */
function fusedPointwiseLoss(
  op: string,
  kind: PointwiseKind,
  x: Tensor,
  y: Tensor,
  reduction: Reduction,
  extras: PointwiseExtras = {},
): Tensor {
  const { weight = null, posWeight = null, beta = 0 } = extras
  const shape = broadcastShapes(op, x.shape, y.shape)
  const dense = (t: Tensor | null): Tensor | null => {
    if (!t || (sameShape(t.shape, shape) && t.isContiguous())) return t
    return noGrad(() => {
      const view = expandTo(t, shape)
      const c = view.contiguous()
      if (view !== t && view !== c) view.dispose()
      return c
    })
  }
  const [xd, yd, wd, pwd] = [dense(x), dense(y), dense(weight), dense(posWeight)] as Tensor[]
  const count = numelOf(shape)
  const perElement = reduction === 'none' ? Tensor.empty(shape, x.dtype, x.device) : null
  const sum = x.backend.run('pointwiseLoss', kind, perElement, xd, yd, wd, pwd, beta) as number
  const out = perElement ?? full([], reduction === 'mean' ? sum / count : sum, { dtype: x.dtype, device: x.device })
  const scale = reduction === 'mean' ? 1 / count : 1
  return record(op, out, [x, y, weight, posWeight], (g) => {
    const gradOf = (t: Tensor) => (t.requiresGrad ? Tensor.empty(shape, x.dtype, x.device) : null)
    const [gx, gy] = [gradOf(x), gradOf(y)]
    // a broadcast upstream gradient (all strides 0) goes in as its one value
    const gl = g.ndim > 0 && g.strides.every((s) => s === 0) ? g.asView([], []) : g.contiguous()
    if (gx || gy) x.backend.run('pointwiseLossBackward', kind, gx, gy, xd, yd, wd, pwd, gl, scale, beta)
    if (gl !== g) gl.dispose()
    const weightGrads = () => {
      const gs = g.mul(scale)
      const sp = xd.abs().neg().exp().log1p().add(xd.neg().relu())
      const lw = pwd ? pwd.sub(1).mul(yd).add(1) : null
      const unweighted = yd
        .neg()
        .add(1)
        .mul(xd)
        .add(lw ? lw.mul(sp) : sp)
      return [
        weight && weight.requiresGrad ? sumTo(gs.mul(unweighted), weight.shape) : null,
        posWeight && posWeight.requiresGrad ? sumTo((wd ? gs.mul(wd) : gs).mul(yd).mul(sp), posWeight.shape) : null,
      ]
    }
    const [gw, gpw] = weight?.requiresGrad || posWeight?.requiresGrad ? weightGrads() : [null, null]
    return [gx && sumTo(gx, x.shape), gy && sumTo(gy, y.shape), gw, gpw]
  })
}

function checkFloat(op: string, t: Tensor, arg: string): void {
  checkTensor(op, t, arg)
  if (!isFloating(t.dtype)) throw new Error(`${op}: ${arg} must be floating-point, got ${t.dtype}`)
}

function checkPair(op: string, x: Tensor, y: Tensor): void {
  checkFloat(op, x, 'input')
  checkFloat(op, y, 'target')
  checkSameDevice(op, x, y)
  if (x.dtype !== y.dtype) throw new Error(`${op}: input is ${x.dtype} but target is ${y.dtype}`)
}

export interface CrossEntropyOptions {
  /** Per-class weights [C]. */
  weight?: Tensor | null
  /** Class-index targets equal to this contribute nothing (default -100). */
  ignoreIndex?: number
  labelSmoothing?: number
  reduction?: Reduction
}

/**
 * Cross-entropy between logits [N, C, ...] (or [C]) and class indices (int32 [N, ...]) or
 * class probabilities (float, shaped like the logits), as torch.nn.functional.cross_entropy.
 * 'mean' divides by the summed weight of the non-ignored targets (for probabilities, by the
 * number of positions).
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  return autocastFloat32([logits, opts.weight], (logits, weight) =>
    crossEntropyIn(logits, target, weight === opts.weight ? opts : { ...opts, weight }),
  )
}

function crossEntropyIn(logits: Tensor, target: Tensor, opts: CrossEntropyOptions): Tensor {
  const op = 'crossEntropy'
  checkFloat(op, logits, 'input')
  checkTensor(op, target, 'target')
  checkSameDevice(op, logits, target)
  const { weight = null, labelSmoothing = 0, reduction = 'mean' } = opts
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none')
    throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${reduction}'`)
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing <= 1))
    throw new Error(`${op}: labelSmoothing must be in [0, 1], got ${labelSmoothing}`)
  if (logits.ndim === 0) throw new Error(`${op}: input must be [C] or [N, C, ...], got a 0-d tensor`)
  const probs = target.dtype !== 'int32'
  if (probs && !isFloating(target.dtype))
    throw new Error(`${op}: target must be int32 class indices or float probabilities, got ${target.dtype}`)
  if (probs && opts.ignoreIndex !== undefined) throw new Error(`${op}: ignoreIndex applies only to class-index targets`)
  const ignoreIndex = opts.ignoreIndex ?? -100
  if (!Number.isInteger(ignoreIndex)) throw new Error(`${op}: ignoreIndex must be an integer, got ${ignoreIndex}`)
  const batched = logits.ndim > 1
  const N = batched ? logits.shape[0] : 1
  const C = batched ? logits.shape[1] : logits.shape[0]
  const rest = batched ? logits.shape.slice(2) : []
  const S = numelOf(rest)
  const posShape = batched ? [N, ...rest] : []
  const want = probs ? logits.shape : posShape
  if (!sameShape(target.shape, want))
    throw new Error(
      `${op}: target ${shapeStr(target.shape)} does not fit input ${shapeStr(logits.shape)} (expected ${probs ? 'probabilities' : 'class indices'} of shape ${shapeStr(want)})`,
    )
  if (probs && target.dtype !== logits.dtype)
    throw new Error(`${op}: probability target is ${target.dtype} but the input is ${logits.dtype}`)
  if (weight) {
    checkTensor(op, weight, 'weight')
    if (weight.ndim !== 1 || weight.shape[0] !== C || weight.dtype !== logits.dtype)
      throw new Error(`${op}: weight must be ${logits.dtype} [${C}], got ${weight.dtype} ${shapeStr(weight.shape)}`)
  }
  const x3 = kernelView(logits, [N, C, S])
  const t3 = kernelView(target, probs ? [N, C, S] : [N, S])
  const loss = Tensor.empty(posShape, logits.dtype, logits.device)
  const lse = Tensor.empty([N, S], logits.dtype, logits.device)
  const loss2 = kernelView(loss, [N, S])
  let denom: number
  try {
    denom = logits.backend.run('crossEntropyForward', loss2, lse, x3, t3, weight, ignoreIndex, labelSmoothing) as number
  } catch (e) {
    // the kernel checks every target: report it as this op's error
    throw new Error(`${op}: ${(e as Error).message.replace(/^crossEntropyForward: /, '')}`)
  } finally {
    loss2.dispose()
  }
  let out = loss
  if (reduction !== 'none') {
    const total = loss.sum()
    loss.dispose()
    out = reduction === 'mean' ? total.div(denom) : total
    if (out !== total) total.dispose()
  }
  const scale = reduction === 'mean' ? 1 / denom : 1
  return record(op, out, [logits, probs ? target : null], (g) => {
    const gl = reduction === 'none' ? kernelView(g, [N, S]) : g.asView([N, S], [0, 0])
    let gx: Tensor | null = null
    if (logits.requiresGrad) {
      gx = Tensor.empty(logits.shape, logits.dtype, logits.device)
      const gx3 = kernelView(gx, [N, C, S])
      logits.backend.run('crossEntropyBackward', gx3, x3, t3, weight, lse, gl, scale, ignoreIndex, labelSmoothing)
      gx3.dispose()
    }
    gl.dispose()
    let gt: Tensor | null = null
    if (probs && target.requiresGrad) {
      // d loss / d t[c] = -(1 - e) * w[c] * log p[c], times the upstream gradient
      const logp = x3.sub(lse.reshape([N, 1, S]))
      let k = logp.mul(-(1 - labelSmoothing) * scale)
      if (weight) k = k.mul(weight.reshape([1, C, 1]))
      const up = reduction === 'none' ? g.reshape([N, 1, S]) : g
      gt = k.mul(up).reshape(target.shape)
    }
    return [gx, gt]
  })
}

export interface BceOptions {
  /** Rescales each element's loss (broadcast to the input). */
  weight?: Tensor | null
  /** Weight of positive examples per class (broadcast along the last dim). */
  posWeight?: Tensor | null
  reduction?: Reduction
}

/** Sigmoid and binary cross-entropy in one stable expression (torch.nn.functional.binary_cross_entropy_with_logits). */
export function binaryCrossEntropyWithLogits(x: Tensor, y: Tensor, opts: BceOptions = {}): Tensor {
  return autocastFloat32([x, y], (x, y) => binaryCrossEntropyWithLogitsIn(x, y, opts))
}

function binaryCrossEntropyWithLogitsIn(x: Tensor, y: Tensor, opts: BceOptions): Tensor {
  const op = 'binaryCrossEntropyWithLogits'
  checkPair(op, x, y)
  if (!sameShape(x.shape, y.shape))
    throw new Error(`${op}: target ${shapeStr(y.shape)} must have the input's shape ${shapeStr(x.shape)}`)
  const w = opts.weight ?? null
  const pw = opts.posWeight ?? null
  for (const [t, name] of [
    [w, 'weight'],
    [pw, 'posWeight'],
  ] as const) {
    if (!t) continue
    checkFloat(op, t, name)
    if (t.dtype !== x.dtype) throw new Error(`${op}: ${name} is ${t.dtype} but the input is ${x.dtype}`)
    if (t.ndim > x.ndim || t.shape.some((s, i) => s !== 1 && s !== x.shape[x.ndim - t.ndim + i]))
      throw new Error(`${op}: ${name} ${shapeStr(t.shape)} does not broadcast to the input ${shapeStr(x.shape)}`)
  }
  if (hasFusedLoss(x))
    return fusedPointwiseLoss(op, 'bceWithLogits', x, y, checkReduction(op, opts.reduction), {
      weight: w,
      posWeight: pw,
    })
  // loss = w * ((1 - y) x + lw * softplus(-x)), lw = 1 + (pw - 1) y,
  // softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)
  const { unweighted, sp, lw } = noGrad(() => {
    const sp = x.abs().neg().exp().log1p().add(x.neg().relu())
    const lw = pw ? pw.sub(1).mul(y).add(1) : null
    return {
      unweighted: y
        .neg()
        .add(1)
        .mul(x)
        .add(lw ? lw.mul(sp) : sp),
      sp,
      lw,
    }
  })
  const loss = w ? noGrad(() => unweighted.mul(w)) : unweighted
  const elementwise = record(op, loss, [x, y, w, pw], (g) => {
    const gw = w ? g.mul(w) : g
    const sigNeg = x.neg().sigmoid()
    return [
      // d/dx = (1 - y) - lw * sigmoid(-x), smooth through x = 0
      x.requiresGrad
        ? gw.mul(
            y
              .neg()
              .add(1)
              .sub(lw ? lw.mul(sigNeg) : sigNeg),
          )
        : null,
      y.requiresGrad ? gw.mul(pw ? sp.mul(pw.sub(1)).sub(x) : x.neg()) : null,
      w && w.requiresGrad ? sumTo(g.mul(unweighted), w.shape) : null,
      pw && pw.requiresGrad ? sumTo(gw.mul(y).mul(sp), pw.shape) : null,
    ]
  })
  return reduce(op, elementwise, opts.reduction)
}

export interface ReductionOptions {
  reduction?: Reduction
}

export function mseLoss(x: Tensor, y: Tensor, opts: ReductionOptions = {}): Tensor {
  return autocastFloat32([x, y], (x, y) => mseLossIn(x, y, opts))
}

function mseLossIn(x: Tensor, y: Tensor, opts: ReductionOptions): Tensor {
  checkPair('mseLoss', x, y)
  if (hasFusedLoss(x)) return fusedPointwiseLoss('mseLoss', 'mse', x, y, checkReduction('mseLoss', opts.reduction))
  return reduce('mseLoss', x.sub(y).square(), opts.reduction)
}

export function l1Loss(x: Tensor, y: Tensor, opts: ReductionOptions = {}): Tensor {
  return autocastFloat32([x, y], (x, y) => l1LossIn(x, y, opts))
}

function l1LossIn(x: Tensor, y: Tensor, opts: ReductionOptions): Tensor {
  checkPair('l1Loss', x, y)
  if (hasFusedLoss(x)) return fusedPointwiseLoss('l1Loss', 'l1', x, y, checkReduction('l1Loss', opts.reduction))
  return reduce('l1Loss', x.sub(y).abs(), opts.reduction)
}

/** 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta beyond (d = x - y; beta 0 is l1Loss). */
export function smoothL1Loss(x: Tensor, y: Tensor, opts: ReductionOptions & { beta?: number } = {}): Tensor {
  return autocastFloat32([x, y], (x, y) => smoothL1LossIn(x, y, opts))
}

function smoothL1LossIn(x: Tensor, y: Tensor, opts: ReductionOptions & { beta?: number }): Tensor {
  const op = 'smoothL1Loss'
  checkPair(op, x, y)
  const beta = opts.beta ?? 1
  if (!(beta >= 0) || !Number.isFinite(beta)) throw new Error(`${op}: beta must be a non-negative number, got ${beta}`)
  if (hasFusedLoss(x))
    return fusedPointwiseLoss(op, beta === 0 ? 'l1' : 'smoothL1', x, y, checkReduction(op, opts.reduction), { beta })
  const d = x.sub(y).abs()
  const loss = beta === 0 ? d : where(d.lt(beta), d.square().mul(0.5 / beta), d.sub(0.5 * beta))
  return reduce(op, loss, opts.reduction)
}

/**
 * The p-norm along dim (kept), with gradient 0 at a zero vector instead of NaN. `floor`
 * raises the value to at least floor outside autograd: the gradient keeps the norm's formula
 * at the raised value, as PyTorch's cosine_similarity clamps its squared norms in place.
 */
function pNorm(op: string, x: Tensor, p: number, dim: number, floor = 0): Tensor {
  if (!(p > 0) || !Number.isFinite(p)) throw new Error(`${op}: p must be a positive finite number, got ${p}`)
  const n = noGrad(() =>
    p === 2
      ? x.square().sum(dim, true).sqrt()
      : x
          .abs()
          .pow(p)
          .sum(dim, true)
          .pow(1 / p),
  )
  const value = floor > 0 ? noGrad(() => n.clamp(floor)) : n
  return record(`${op}.norm`, value, [x], (g) => {
    // d|x|_p / dx = sign(x) |x|^(p-1) / |x|_p^(p-1), and 0 where the norm is 0
    const safe = where(value.eq(0), 1, value)
    // p = 2: x (g / |x|), dividing the reduced tensor rather than x
    if (p === 2) return [x.mul(g.div(safe))]
    const dir = x.sign().mul(
      x
        .abs()
        .div(safe)
        .pow(p - 1),
    )
    return [dir.mul(g)]
  })
}

export interface NormalizeOptions {
  p?: number
  dim?: number
  eps?: number
}

/** x / max(|x|_p, eps) along dim (torch.nn.functional.normalize). */
export function normalize(x: Tensor, opts: NormalizeOptions = {}): Tensor {
  return autocastFloat32([x], (x) => normalizeIn(x, opts))
}

function normalizeIn(x: Tensor, opts: NormalizeOptions): Tensor {
  const op = 'normalize'
  checkFloat(op, x, 'input')
  const { p = 2, eps = 1e-12 } = opts
  const dim = normalizeDim(op, opts.dim ?? 1, x.ndim)
  return x.div(pNorm(op, x, p, dim).clamp(eps))
}

export interface CosineSimilarityOptions {
  dim?: number
  eps?: number
}

/**
 * sum(a / max(|a|, eps) * b / max(|b|, eps)) along dim, inputs broadcast
 * (torch.nn.functional.cosine_similarity; the clamps do not enter the gradient, as there).
 */
export function cosineSimilarity(a: Tensor, b: Tensor, opts: CosineSimilarityOptions = {}): Tensor {
  return autocastFloat32([a, b], (a, b) => cosineSimilarityIn(a, b, opts))
}

function cosineSimilarityIn(a: Tensor, b: Tensor, opts: CosineSimilarityOptions): Tensor {
  const op = 'cosineSimilarity'
  checkFloat(op, a, 'x1')
  checkFloat(op, b, 'x2')
  checkSameDevice(op, a, b)
  if (a.dtype !== b.dtype) throw new Error(`${op}: x1 is ${a.dtype} but x2 is ${b.dtype}`)
  const { eps = 1e-8 } = opts
  const ndim = Math.max(a.ndim, b.ndim)
  const dim = normalizeDim(op, opts.dim ?? 1, ndim)
  const a1 = a.ndim < ndim ? a.reshape([...Array(ndim - a.ndim).fill(1), ...a.shape]) : a
  const b1 = b.ndim < ndim ? b.reshape([...Array(ndim - b.ndim).fill(1), ...b.shape]) : b
  const na = pNorm(op, a1, 2, dim, eps)
  const nb = pNorm(op, b1, 2, dim, eps)
  // sum(x1 / |x1| * x2 / |x2|) (PyTorch's form, each norm floored at eps) as x1 . x2 / (|x1| |x2|):
  // the division on the reduced tensors, so forward and backward make fewer full-size passes.
  return a1.mul(b1).sum(dim).div(na.mul(nb).squeeze(dim))
}
