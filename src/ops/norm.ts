// Normalisation layers on fused native kernels: batchNorm, layerNorm, groupNorm. Each
// forward saves the per-channel (or per-row, per-group) mean and inverse std, and the
// backward kernel produces every needed gradient in one call.
import { autocastFloat32 } from './autocast'
import { record } from '../autograd/node'
import { isFloating } from '../tensor/dtype'
import { numelOf, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { gelu, relu, silu } from './elementwise'
import { checkTensor, kernelView } from './util'

function checkParam(
  op: string,
  t: Tensor | null | undefined,
  name: string,
  shape: readonly number[],
  x: Tensor,
): Tensor | null {
  if (t == null) return null
  checkTensor(op, t, name)
  if (t.ndim !== shape.length || t.shape.some((s, i) => s !== shape[i]))
    throw new Error(
      `${op}: ${name} has shape ${shapeStr(t.shape)}, expected ${shapeStr(shape)} for input ${shapeStr(x.shape)}`,
    )
  if (t.dtype !== x.dtype) throw new Error(`${op}: ${name} is ${t.dtype} but the input is ${x.dtype}`)
  if (t.device !== x.device) throw new Error(`${op}: ${name} is on ${t.device}, the input on ${x.device}`)
  return t
}

function checkInput(op: string, x: Tensor, minDims: number, what: string): void {
  checkTensor(op, x, 'input')
  if (!isFloating(x.dtype)) throw new Error(`${op}: input must be floating-point, got ${x.dtype}`)
  if (x.ndim < minDims) throw new Error(`${op}: input must be ${what}, got shape ${shapeStr(x.shape)}`)
}

export interface BatchNormOptions {
  /** Batch statistics, updating the running ones (default false: use the running stats). */
  training?: boolean
  momentum?: number
  eps?: number
  /**
   * Applies an activation to the normalised output inside the kernel, while each row is in
   * cache (what activation(batchNorm(...)) computes, in one pass); the backward recomputes the
   * pre-activation from x. CPU tensors, float32 planes of 64 positions or more; elsewhere (and
   * on CUDA) the activation runs as an op of its own. Not part of PyTorch's signature.
   */
  activation?: NormActivation
}

/** The activations batchNorm applies in its kernel, as ops of their own. */
export const normActivations = { relu, gelu, silu }
export type NormActivation = keyof typeof normActivations

/**
 * Batch normalisation over [N, C, ...] (torch.nn.functional.batch_norm). Training normalises
 * with the batch statistics and updates runningMean/runningVar in place:
 * r = (1 - momentum) * r + momentum * stat, with the unbiased variance.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  opts: BatchNormOptions = {},
): Tensor {
  return autocastFloat32([x, weight, bias], (x, weight, bias) =>
    batchNormIn(x, runningMean, runningVar, weight, bias, opts),
  )
}

function batchNormIn(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  opts: BatchNormOptions,
): Tensor {
  const op = 'batchNorm'
  checkInput(op, x, 2, '[N, C, ...]')
  const { training = false, momentum = 0.1, eps = 1e-5, activation: act } = opts
  if (!Number.isFinite(momentum) || momentum < 0 || momentum > 1)
    throw new Error(`${op}: momentum must be in [0, 1], got ${momentum}`)
  if (act !== undefined && !Object.hasOwn(normActivations, act))
    throw new Error(`${op}: activation must be 'relu', 'gelu' or 'silu', got '${String(act)}'`)
  const [N, C] = x.shape
  const S = numelOf(x.shape.slice(2))
  // The kernel applies it on the CPU, to float32 rows of 64 or more: shorter rows (planes of
  // 4x4 and below) cost more in per-row calls than the separate pass saves (bench/nn-ops.ts).
  if (act && (x.device !== 'cpu' || (x.dtype === 'float32' && S < 64)))
    return normActivations[act](
      batchNormIn(x, runningMean, runningVar, weight, bias, { ...opts, activation: undefined }),
    )
  if (!(eps >= 0)) throw new Error(`${op}: eps must be non-negative, got ${eps}`)
  const w = checkParam(op, weight, 'weight', [C], x)
  const b = checkParam(op, bias, 'bias', [C], x)
  const rm = checkParam(op, runningMean, 'runningMean', [C], x)
  const rv = checkParam(op, runningVar, 'runningVar', [C], x)
  if (!rm !== !rv) throw new Error(`${op}: give both runningMean and runningVar, or neither`)
  if (!training && !rm) throw new Error(`${op}: evaluation mode (training false) needs runningMean and runningVar`)
  if (training && N * S <= 1)
    throw new Error(`${op}: expected more than 1 value per channel when training, got input ${shapeStr(x.shape)}`)
  const v = kernelView(x, [N, C, S])
  const out = Tensor.empty(x.shape, x.dtype, x.device)
  const outV = out.asView([N, C, S], [C * S, S, 1])
  const mean = Tensor.empty([C], x.dtype, x.device)
  const invstd = Tensor.empty([C], x.dtype, x.device)
  x.backend.run('batchNormForward', outV, v, w, b, rm, rv, mean, invstd, training, momentum, eps, act ?? 'none')
  outV.dispose()
  return record(op, out, [x, w, b], (g) => {
    const gx = x.requiresGrad ? Tensor.empty(x.shape, x.dtype, x.device) : null
    const gw = w && w.requiresGrad ? Tensor.empty([C], x.dtype, x.device) : null
    const gb = b && b.requiresGrad ? Tensor.empty([C], x.dtype, x.device) : null
    const gxV = gx?.asView([N, C, S], [C * S, S, 1]) ?? null
    const gV = kernelView(g, [N, C, S])
    x.backend.run('batchNormBackward', gxV, gw, gb, gV, v, w, mean, invstd, training, b, act ?? 'none')
    gxV?.dispose()
    gV.dispose()
    return [gx, gw, gb]
  })
}

/** Layer normalisation over the trailing dims `normalizedShape` (torch.nn.functional.layer_norm). */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  return autocastFloat32([x, weight, bias], (x, weight, bias) => layerNormIn(x, normalizedShape, weight, bias, eps))
}

function layerNormIn(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  eps: number,
): Tensor {
  const op = 'layerNorm'
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape]
  checkInput(op, x, ns.length, `at least ${ns.length}-d`)
  if (ns.length === 0 || ns.some((s) => !Number.isInteger(s) || s <= 0))
    throw new Error(`${op}: normalizedShape ${shapeStr(ns)} must be a non-empty list of positive sizes`)
  const tail = x.shape.slice(x.ndim - ns.length)
  if (tail.some((s, i) => s !== ns[i]))
    throw new Error(`${op}: input ${shapeStr(x.shape)} does not end with normalizedShape ${shapeStr(ns)}`)
  if (!(eps >= 0)) throw new Error(`${op}: eps must be non-negative, got ${eps}`)
  const w = checkParam(op, weight, 'weight', ns, x)
  const b = checkParam(op, bias, 'bias', ns, x)
  const K = numelOf(ns)
  const M = x.numel / K
  const v = kernelView(x, [M, K])
  const w1 = w && kernelView(w, [K])
  const b1 = b && kernelView(b, [K])
  const out = Tensor.empty(x.shape, x.dtype, x.device)
  const outV = out.asView([M, K], [K, 1])
  const mean = Tensor.empty([M], x.dtype, x.device)
  const rstd = Tensor.empty([M], x.dtype, x.device)
  x.backend.run('layerNormForward', outV, v, w1, b1, mean, rstd, eps)
  outV.dispose()
  b1?.dispose()
  return record(op, out, [x, w, b], (g) => {
    const gx = x.requiresGrad ? Tensor.empty(x.shape, x.dtype, x.device) : null
    const gw = w && w.requiresGrad ? Tensor.empty(ns, x.dtype, x.device) : null
    const gb = b && b.requiresGrad ? Tensor.empty(ns, x.dtype, x.device) : null
    const views = [gx?.asView([M, K], [K, 1]), gw?.asView([K], [1]), gb?.asView([K], [1]), kernelView(g, [M, K])]
    x.backend.run(
      'layerNormBackward',
      views[0] ?? null,
      views[1] ?? null,
      views[2] ?? null,
      views[3],
      v,
      w1,
      mean,
      rstd,
    )
    for (const t of views) t?.dispose()
    return [gx, gw, gb]
  })
}

/** Group normalisation of [N, C, ...] over numGroups groups of channels (torch.nn.functional.group_norm). */
export function groupNorm(
  x: Tensor,
  numGroups: number,
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  return autocastFloat32([x, weight, bias], (x, weight, bias) => groupNormIn(x, numGroups, weight, bias, eps))
}

function groupNormIn(
  x: Tensor,
  numGroups: number,
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  eps: number,
): Tensor {
  const op = 'groupNorm'
  checkInput(op, x, 2, '[N, C, ...]')
  const [N, C] = x.shape
  if (!Number.isInteger(numGroups) || numGroups <= 0 || C % numGroups !== 0)
    throw new Error(
      `${op}: numGroups ${numGroups} must be a positive integer dividing the ${C} channels of input ${shapeStr(x.shape)}`,
    )
  if (!(eps >= 0)) throw new Error(`${op}: eps must be non-negative, got ${eps}`)
  const w = checkParam(op, weight, 'weight', [C], x)
  const b = checkParam(op, bias, 'bias', [C], x)
  const S = numelOf(x.shape.slice(2))
  const v = kernelView(x, [N, C, S])
  const out = Tensor.empty(x.shape, x.dtype, x.device)
  const outV = out.asView([N, C, S], [C * S, S, 1])
  const mean = Tensor.empty([N, numGroups], x.dtype, x.device)
  const rstd = Tensor.empty([N, numGroups], x.dtype, x.device)
  x.backend.run('groupNormForward', outV, v, numGroups, w, b, mean, rstd, eps)
  outV.dispose()
  return record(op, out, [x, w, b], (g) => {
    const gx = x.requiresGrad ? Tensor.empty(x.shape, x.dtype, x.device) : null
    const gw = w && w.requiresGrad ? Tensor.empty([C], x.dtype, x.device) : null
    const gb = b && b.requiresGrad ? Tensor.empty([C], x.dtype, x.device) : null
    const gxV = gx?.asView([N, C, S], [C * S, S, 1]) ?? null
    const gV = kernelView(g, [N, C, S])
    x.backend.run('groupNormBackward', gxV, gw, gb, gV, v, numGroups, w, mean, rstd)
    gxV?.dispose()
    gV.dispose()
    return [gx, gw, gb]
  })
}
