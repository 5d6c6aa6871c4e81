// Elementwise ops with NumPy broadcasting and PyTorch's type promotion, and their gradients.
import type { BinaryOp, UnaryOp } from '../backend/backend'
import { record } from '../autograd/node'
import { isFloating } from '../tensor/dtype'
import { broadcastShapes } from '../tensor/shape'
import { Tensor, type TensorLike } from '../tensor/tensor'
import { zerosLike } from '../tensor/creation'
import { broadcastPair, checkTensor, expandTo, lift, releaseTemporaries, releaseTemporary, sumTo } from './util'

function runBinary(op: BinaryOp, a: Tensor, b: Tensor, shape: number[], outDtype = a.dtype, alpha = 1): Tensor {
  const out = Tensor.empty(shape, outDtype, a.device)
  const ea = expandTo(a, shape)
  const eb = expandTo(b, shape)
  a.backend.binary(op, out, ea, eb, alpha)
  releaseTemporary(ea, a, b)
  releaseTemporary(eb, a, b)
  return out
}

function runUnary(op: UnaryOp, x: Tensor, a = NaN, b = NaN): Tensor {
  const out = Tensor.empty(x.shape, x.dtype, x.device)
  x.backend.unary(op, out, x, a, b)
  return out
}

/** Applies a gradient kernel: kernel(x, g) elementwise (x is the forward input or output). */
export function gradKernel(op: BinaryOp, x: Tensor, g: Tensor, alpha = 1): Tensor {
  return runBinary(op, x, g.dtype === x.dtype ? g : g.to(x.dtype), x.shape, x.dtype, alpha)
}

export function add(a: TensorLike, b: TensorLike, alpha = 1): Tensor {
  const p = broadcastPair('add', a, b)
  const out = runBinary('add', p.a, p.b, p.shape, p.dtype, alpha)
  return record('add', out, [p.a, p.b], (g) => [
    sumTo(g, p.a.shape),
    alpha === 1 ? sumTo(g, p.b.shape) : sumTo(g.mul(alpha), p.b.shape),
  ])
}

export function sub(a: TensorLike, b: TensorLike, alpha = 1): Tensor {
  const p = broadcastPair('sub', a, b)
  const out = runBinary('sub', p.a, p.b, p.shape, p.dtype, alpha)
  return record('sub', out, [p.a, p.b], (g) => [sumTo(g, p.a.shape), sumTo(g.mul(-alpha), p.b.shape)])
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  const p = broadcastPair('mul', a, b)
  const out = runBinary('mul', p.a, p.b, p.shape)
  return record('mul', out, [p.a, p.b], (g) => [
    p.a.requiresGrad ? sumTo(g.mul(p.b), p.a.shape) : null,
    p.b.requiresGrad ? sumTo(g.mul(p.a), p.b.shape) : null,
  ])
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  const p = broadcastPair('div', a, b)
  // True division: integers divide as float32, like torch.div.
  const ta = isFloating(p.dtype) ? p.a : p.a.to('float32')
  const tb = isFloating(p.dtype) ? p.b : p.b.to('float32')
  const out = runBinary('div', ta, tb, p.shape)
  return record('div', out, [ta, tb], (g) => [
    ta.requiresGrad ? sumTo(g.div(tb), ta.shape) : null,
    tb.requiresGrad ? sumTo(g.mul(out).div(tb).neg(), tb.shape) : null,
  ])
}

export function pow(a: TensorLike, b: TensorLike): Tensor {
  if (a instanceof Tensor && typeof b === 'number') {
    checkTensor('pow', a, 'input')
    const x = isFloating(a.dtype) ? a : a.to('float32')
    const out = runUnary('powScalar', x, b)
    return record('pow', out, [x], (g) => {
      if (b === 0) return [zerosLike(x)]
      if (!x.backend.has('powScalarBackward')) return [g.mul(pow(x, b - 1).mul(b))]
      const gx = Tensor.empty(x.shape, x.dtype, x.device)
      x.backend.run('powScalarBackward', gx, x, g.dtype === x.dtype ? g : g.to(x.dtype), b)
      return [gx]
    })
  }
  const p = broadcastPair('pow', a, b)
  const ta = isFloating(p.dtype) ? p.a : p.a.to('float32')
  const tb = isFloating(p.dtype) ? p.b : p.b.to('float32')
  const out = runBinary('pow', ta, tb, p.shape)
  return record('pow', out, [ta, tb], (g) => [
    ta.requiresGrad ? sumTo(g.mul(tb).mul(pow(ta, tb.sub(1))), ta.shape) : null,
    tb.requiresGrad ? sumTo(g.mul(out).mul(ta.log()), tb.shape) : null,
  ])
}

function minMax(op: 'maximum' | 'minimum', a: TensorLike, b: TensorLike): Tensor {
  const p = broadcastPair(op, a, b)
  const out = runBinary(op, p.a, p.b, p.shape)
  // Ties split the gradient evenly, as PyTorch does.
  return record(op, out, [p.a, p.b], (g) => {
    const aWins = (op === 'maximum' ? gt(p.a, p.b) : lt(p.a, p.b)).to(g.dtype)
    const tie = eq(p.a, p.b).to(g.dtype).mul(0.5)
    const wa = aWins.add(tie)
    return [sumTo(g.mul(wa), p.a.shape), sumTo(g.mul(wa.neg().add(1)), p.b.shape)]
  })
}

export const maximum = (a: TensorLike, b: TensorLike): Tensor => minMax('maximum', a, b)
export const minimum = (a: TensorLike, b: TensorLike): Tensor => minMax('minimum', a, b)

export function remainder(a: TensorLike, b: TensorLike): Tensor {
  const p = broadcastPair('remainder', a, b)
  const out = runBinary('remainder', p.a, p.b, p.shape)
  return record('remainder', out, [p.a, p.b], (g) => [
    sumTo(g, p.a.shape),
    p.b.requiresGrad ? sumTo(g.mul(p.a.div(p.b).floor()).neg(), p.b.shape) : null,
  ])
}

function compare(
  op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'logicalAnd' | 'logicalOr',
  a: TensorLike,
  b: TensorLike,
): Tensor {
  const p = broadcastPair(op, a, b)
  return runBinary(op, p.a, p.b, p.shape, 'bool')
}

export const eq = (a: TensorLike, b: TensorLike): Tensor => compare('eq', a, b)
export const ne = (a: TensorLike, b: TensorLike): Tensor => compare('ne', a, b)
export const lt = (a: TensorLike, b: TensorLike): Tensor => compare('lt', a, b)
export const le = (a: TensorLike, b: TensorLike): Tensor => compare('le', a, b)
export const gt = (a: TensorLike, b: TensorLike): Tensor => compare('gt', a, b)
export const ge = (a: TensorLike, b: TensorLike): Tensor => compare('ge', a, b)
export const logicalAnd = (a: TensorLike, b: TensorLike): Tensor => compare('logicalAnd', a, b)
export const logicalOr = (a: TensorLike, b: TensorLike): Tensor => compare('logicalOr', a, b)

export function logicalNot(x: Tensor): Tensor {
  checkTensor('logicalNot', x, 'input')
  const b = x.dtype === 'bool' ? x : x.to('bool')
  return runUnary('logicalNot', b)
}

type UnaryGrad = (g: Tensor, x: Tensor, out: Tensor) => Tensor | null

function unaryOp(op: UnaryOp, grad: UnaryGrad, floatOnly = true, a = NaN, b = NaN) {
  return (x: Tensor): Tensor => {
    checkTensor(op, x, 'input')
    const input = floatOnly && !isFloating(x.dtype) ? x.to('float32') : x
    const out = runUnary(op, input, a, b)
    return record(op, out, [input], (g) => [grad(g, input, out)])
  }
}

export const neg = unaryOp('neg', (g) => g.neg(), false)
export const abs = unaryOp('abs', (g, x) => g.mul(x.sign()), false)
export const exp = unaryOp('exp', (g, _x, y) => g.mul(y))
export const log = unaryOp('log', (g, x) => g.div(x))
export const log1p = unaryOp('log1p', (g, x) => g.div(x.add(1)))
export const expm1 = unaryOp('expm1', (g, _x, y) => g.mul(y.add(1)))
export const sqrt = unaryOp('sqrt', (g, _x, y) => g.div(y).mul(0.5))
export const rsqrt = unaryOp('rsqrt', (g, _x, y) => g.mul(y.mul(y).mul(y)).mul(-0.5))
export const square = unaryOp('square', (g, x) => g.mul(x).mul(2), false)
export const reciprocal = unaryOp('reciprocal', (g, _x, y) => g.mul(y.mul(y)).neg())
export const sin = unaryOp('sin', (g, x) => g.mul(x.cos()))
export const cos = unaryOp('cos', (g, x) => g.mul(x.sin()).neg())
export const sign = unaryOp('sign', (g) => zerosLike(g), false)
export const floor = unaryOp('floor', (g) => zerosLike(g))
export const ceil = unaryOp('ceil', (g) => zerosLike(g))
export const round = unaryOp('round', (g) => zerosLike(g))
export const tanh = unaryOp('tanh', (g, _x, y) => gradKernel('tanhGrad', y, g))
export const sigmoid = unaryOp('sigmoid', (g, _x, y) => gradKernel('sigmoidGrad', y, g))
export const relu = unaryOp('relu', (g, x) => gradKernel('reluGrad', x, g), false)
export const silu = unaryOp('silu', (g, x) => gradKernel('siluGrad', x, g))
export const hardsigmoid = unaryOp('hardsigmoid', (g, x) => gradKernel('hardsigmoidGrad', x, g))
export const hardswish = unaryOp('hardswish', (g, x) => gradKernel('hardswishGrad', x, g))

const geluErf = unaryOp('gelu', (g, x) => gradKernel('geluGrad', x, g))
const geluTanh = unaryOp('geluTanh', (g, x) => gradKernel('geluTanhGrad', x, g))

/** GELU; approximate 'tanh' uses the tanh form, as in torch.nn.functional.gelu. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh')
    throw new Error(`gelu: approximate must be 'none' or 'tanh', got '${approximate}'`)
  return approximate === 'tanh' ? geluTanh(x) : geluErf(x)
}

export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return unaryOp(
    'leakyRelu',
    (g, input) => gradKernel('leakyReluGrad', input, g, negativeSlope),
    true,
    negativeSlope,
  )(x)
}

export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  checkTensor('clamp', x, 'input')
  const lo = min ?? NaN
  const hi = max ?? NaN
  if (Number.isNaN(lo) && Number.isNaN(hi)) throw new Error('clamp: at least one of min and max must be given')
  if (!Number.isNaN(lo) && !Number.isNaN(hi) && lo > hi) throw new Error(`clamp: min ${lo} is greater than max ${hi}`)
  const out = runUnary('clamp', x, lo, hi)
  return record('clamp', out, [x], (g) => {
    let mask = Number.isNaN(lo) ? null : ge(x, lo)
    if (!Number.isNaN(hi)) mask = mask ? logicalAnd(mask, le(x, hi)) : le(x, hi)
    return [g.mul((mask as Tensor).to(g.dtype))]
  })
}

/** where(condition, a, b): a where condition is true, else b (broadcast together). */
export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  checkTensor('where', condition, 'condition')
  const p = broadcastPair('where', a, b)
  const cond = condition.dtype === 'bool' ? condition : condition.to('bool')
  const shape = broadcastShapes('where', cond.shape, p.shape)
  const out = Tensor.empty(shape, p.dtype, p.a.device)
  const views = [expandTo(cond, shape), expandTo(p.a, shape), expandTo(p.b, shape)] as const
  p.a.backend.where(out, ...views)
  releaseTemporaries([...views], [cond, p.a, p.b])
  return record('where', out, [p.a, p.b], (g) => {
    const zero = lift('where', 0, g.dtype, g, 'zero')
    return [
      p.a.requiresGrad ? sumTo(where(cond, g, zero), p.a.shape) : null,
      p.b.requiresGrad ? sumTo(where(cond, zero, g), p.b.shape) : null,
    ]
  })
}
