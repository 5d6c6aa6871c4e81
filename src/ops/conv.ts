// 2-d convolutions, NCHW (torch.nn.functional.conv2d / conv_transpose2d). The kernels take
// dense tensors and explicit top/bottom/left/right padding; convTranspose2d is the
// convolution's input gradient run forwards, so the two share three native kernels.
import { autocastLow } from './autocast'
import { record } from '../autograd/node'
import { isGradEnabled } from '../autograd/grad-mode'
import { isFloating } from '../tensor/dtype'
import { shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { gradKernel } from './elementwise'
import { dense, pair, unbatched, type Size2 } from './spatial'
import { checkSameDevice, checkTensor } from './util'

export interface Conv2dOptions {
  stride?: Size2
  /** Zero padding on both sides, or 'valid' (none) or 'same' (output size = input size; stride 1 only). */
  padding?: Size2 | 'same' | 'valid'
  dilation?: Size2
  groups?: number
  /**
   * Applies an activation to conv + bias inside the kernel, while the output is in cache
   * (what activation(conv2d(...)) computes, in one pass). Not part of PyTorch's signature.
   */
  activation?: 'relu' | 'gelu' | 'silu'
}

export interface ConvTranspose2dOptions {
  stride?: Size2
  padding?: Size2
  outputPadding?: Size2
  groups?: number
  dilation?: Size2
}

function checkFloatInputs(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined): void {
  checkTensor(op, x, 'input')
  checkTensor(op, weight, 'weight')
  if (bias != null) checkTensor(op, bias, 'bias')
  checkSameDevice(op, x, weight, ...(bias ? [bias] : []))
  if (x.dtype !== weight.dtype || (bias && bias.dtype !== x.dtype) || !isFloating(x.dtype))
    throw new Error(
      `${op}: input, weight and bias must share a float dtype, got ${x.dtype}, ${weight.dtype}${bias ? `, ${bias.dtype}` : ''}`,
    )
  if (x.ndim !== 4)
    throw new Error(`${op}: expected a 3-d [C, H, W] or 4-d [N, C, H, W] input, got ${shapeStr(x.shape)}`)
  if (weight.ndim !== 4) throw new Error(`${op}: expected a 4-d weight, got ${shapeStr(weight.shape)}`)
}

function checkGroups(op: string, groups: number): number {
  if (!Number.isInteger(groups) || groups < 1)
    throw new Error(`${op}: groups must be a positive integer, got ${groups}`)
  return groups
}

/** Native params: [sh, sw, padTop, padBottom, padLeft, padRight, dh, dw, groups]. */
type ConvParams = [number, number, number, number, number, number, number, number, number]

/** torch.nn.functional.conv2d: x [N, C, H, W] (or [C, H, W]), weight [K, C / groups, kh, kw], bias [K]. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  return autocastLow([x, weight, bias], (x, weight, bias) => conv2dIn(x, weight, bias, opts))
}

function conv2dIn(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: Conv2dOptions): Tensor {
  const op = 'conv2d'
  const u = unbatched(op, x, (x4) => conv2d(x4, weight, bias, opts))
  if (u) return u
  checkFloatInputs(op, x, weight, bias)
  const groups = checkGroups(op, opts.groups ?? 1)
  const [sh, sw] = pair(op, 'stride', opts.stride ?? 1, 1)
  const [dh, dw] = pair(op, 'dilation', opts.dilation ?? 1, 1)
  const [N, C, H, W] = x.shape
  const [K, Cg, kh, kw] = weight.shape
  if (C % groups !== 0 || K % groups !== 0)
    throw new Error(
      `${op}: groups ${groups} must divide the input channels ${C} (input ${shapeStr(x.shape)}) and output channels ${K} (weight ${shapeStr(weight.shape)})`,
    )
  if (Cg * groups !== C)
    throw new Error(
      `${op}: input ${shapeStr(x.shape)} has ${C} channels but weight ${shapeStr(weight.shape)} with groups ${groups} expects ${Cg * groups}`,
    )
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== K))
    throw new Error(
      `${op}: bias ${shapeStr(bias.shape)} does not fit weight ${shapeStr(weight.shape)} (expected [${K}])`,
    )
  let pads: [number, number, number, number]
  const padding = opts.padding ?? 0
  if (padding === 'valid') pads = [0, 0, 0, 0]
  else if (padding === 'same') {
    if (sh !== 1 || sw !== 1) throw new Error(`${op}: padding 'same' needs stride 1, got stride [${sh}, ${sw}]`)
    // PyTorch puts the odd element of the total padding at the bottom/right.
    const th = dh * (kh - 1)
    const tw = dw * (kw - 1)
    pads = [th >> 1, th - (th >> 1), tw >> 1, tw - (tw >> 1)]
  } else if (typeof padding === 'string')
    throw new Error(`${op}: padding must be a number, a pair, 'same' or 'valid', got '${padding}'`)
  else {
    const [ph, pw] = pair(op, 'padding', padding, 0)
    pads = [ph, ph, pw, pw]
  }
  const spanH = H + pads[0] + pads[1] - dh * (kh - 1) - 1
  const spanW = W + pads[2] + pads[3] - dw * (kw - 1) - 1
  if (spanH < 0 || spanW < 0)
    throw new Error(
      `${op}: kernel ${kh}x${kw} (dilation ${dh}x${dw}) is larger than the padded input ${H + pads[0] + pads[1]}x${W + pads[2] + pads[3]} (input ${shapeStr(x.shape)}, weight ${shapeStr(weight.shape)})`,
    )
  const act = opts.activation
  if (act !== undefined && act !== 'relu' && act !== 'gelu' && act !== 'silu')
    throw new Error(`${op}: activation must be 'relu', 'gelu' or 'silu', got '${String(act)}'`)
  const params: ConvParams = [sh, sw, pads[0], pads[1], pads[2], pads[3], dh, dw, groups]
  const xc = dense(x)
  const wc = dense(weight)
  const bc = bias ? dense(bias) : null
  const out = Tensor.empty([N, K, Math.floor(spanH / sh) + 1, Math.floor(spanW / sw) + 1], x.dtype, x.device)
  const needsGrad = isGradEnabled() && (x.requiresGrad || weight.requiresGrad || !!bias?.requiresGrad)
  // gelu and silu gradients need the pre-activation; relu's is readable from the output.
  const pre = needsGrad && (act === 'gelu' || act === 'silu') ? Tensor.empty(out.shape, out.dtype, out.device) : null
  x.backend.run('conv2d', out, xc, wc, bc, params, act ?? 'none', pre)
  return record(op, out, [x, weight, bias], (g) => {
    const gz = dense(
      act === 'relu'
        ? gradKernel('reluGrad', out, g)
        : act
          ? gradKernel(act === 'gelu' ? 'geluGrad' : 'siluGrad', pre as Tensor, g)
          : g,
    )
    let gx: Tensor | null = null
    let gw: Tensor | null = null
    let gb: Tensor | null = null
    if (x.requiresGrad) {
      gx = Tensor.empty(x.shape, x.dtype, x.device)
      x.backend.run('conv2dBackwardInput', gx, gz, wc, params)
    }
    if (weight.requiresGrad) {
      gw = Tensor.empty(weight.shape, weight.dtype, weight.device)
      gb = bias?.requiresGrad ? Tensor.empty([K], x.dtype, x.device) : null
      x.backend.run('conv2dBackwardWeight', gw, gb, gz, xc, params)
    } else if (bias?.requiresGrad) gb = gz.sum([0, 2, 3])
    return [gx, gw, gb]
  })
}

/**
 * torch.nn.functional.conv_transpose2d: x [N, Cin, H, W] (or [Cin, H, W]), weight [Cin, Cout / groups, kh, kw], bias
 * [Cout].
 */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  opts: ConvTranspose2dOptions = {},
): Tensor {
  return autocastLow([x, weight, bias], (x, weight, bias) => convTranspose2dIn(x, weight, bias, opts))
}

function convTranspose2dIn(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  opts: ConvTranspose2dOptions,
): Tensor {
  const op = 'convTranspose2d'
  const u = unbatched(op, x, (x4) => convTranspose2d(x4, weight, bias, opts))
  if (u) return u
  checkFloatInputs(op, x, weight, bias)
  const groups = checkGroups(op, opts.groups ?? 1)
  const [sh, sw] = pair(op, 'stride', opts.stride ?? 1, 1)
  const [ph, pw] = pair(op, 'padding', opts.padding ?? 0, 0)
  const [oh, ow] = pair(op, 'outputPadding', opts.outputPadding ?? 0, 0)
  const [dh, dw] = pair(op, 'dilation', opts.dilation ?? 1, 1)
  const [N, C, H, W] = x.shape
  const [Cw, Kg, kh, kw] = weight.shape
  const K = Kg * groups
  if (C % groups !== 0)
    throw new Error(`${op}: groups ${groups} must divide the input channels ${C} (input ${shapeStr(x.shape)})`)
  if (Cw !== C)
    throw new Error(
      `${op}: input ${shapeStr(x.shape)} has ${C} channels but weight ${shapeStr(weight.shape)} expects ${Cw} (weight is [in, out / groups, kh, kw])`,
    )
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== K))
    throw new Error(
      `${op}: bias ${shapeStr(bias.shape)} does not fit weight ${shapeStr(weight.shape)} with groups ${groups} (expected [${K}])`,
    )
  if ((oh >= sh && oh >= dh) || (ow >= sw && ow >= dw))
    throw new Error(
      `${op}: outputPadding [${oh}, ${ow}] must be smaller than either stride [${sh}, ${sw}] or dilation [${dh}, ${dw}]`,
    )
  const Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
  const Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
  if (Ho < 1 || Wo < 1)
    throw new Error(
      `${op}: output size ${Ho}x${Wo} is too small (input ${shapeStr(x.shape)}, weight ${shapeStr(weight.shape)}, padding [${ph}, ${pw}])`,
    )
  // As the gradient of a convolution from [N, K, Ho, Wo] to x's shape; the output padding
  // comes off that convolution's bottom/right padding.
  const params: ConvParams = [sh, sw, ph, ph - oh, pw, pw - ow, dh, dw, groups]
  const xc = dense(x)
  const wc = dense(weight)
  const out = Tensor.empty([N, K, Ho, Wo], x.dtype, x.device)
  x.backend.run('conv2dBackwardInput', out, xc, wc, params)
  if (bias) out.addInPlace(bias.reshape([1, K, 1, 1]))
  return record(op, out, [x, weight, bias], (g) => {
    const gc = dense(g)
    let gx: Tensor | null = null
    let gw: Tensor | null = null
    if (x.requiresGrad) {
      gx = Tensor.empty(x.shape, x.dtype, x.device)
      x.backend.run('conv2d', gx, gc, wc, null, params, 'none', null)
    }
    if (weight.requiresGrad) {
      gw = Tensor.empty(weight.shape, weight.dtype, weight.device)
      x.backend.run('conv2dBackwardWeight', gw, null, xc, gc, params)
    }
    return [gx, gw, bias?.requiresGrad ? gc.sum([0, 2, 3]) : null]
  })
}
