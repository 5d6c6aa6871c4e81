// Padding and 2-d resampling (torch.nn.functional.pad and interpolate), with PyTorch's
// argument orders and index conventions.
import { record } from '../autograd/node'
import { isFloating } from '../tensor/dtype'
import { shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { dense } from './spatial'
import { checkTensor } from './util'

export type PadMode = 'constant' | 'reflect' | 'replicate'

export interface PadOptions {
  mode?: PadMode
  /** The fill for mode 'constant'. */
  value?: number
}

/**
 * torch.nn.functional.pad: `pads` holds (before, after) pairs starting from the last dim,
 * e.g. [left, right, top, bottom] for the last two. Negative constant pads crop.
 */
export function pad(x: Tensor, pads: readonly number[], opts: PadOptions = {}): Tensor {
  const op = 'pad'
  checkTensor(op, x, 'input')
  const mode = opts.mode ?? 'constant'
  const value = opts.value ?? 0
  if (mode !== 'constant' && mode !== 'reflect' && mode !== 'replicate')
    throw new Error(`${op}: mode must be 'constant', 'reflect' or 'replicate', got '${String(mode)}'`)
  if (mode !== 'constant' && opts.value !== undefined && opts.value !== 0)
    throw new Error(`${op}: value applies only to mode 'constant', got mode '${mode}'`)
  if (!isFloating(x.dtype)) throw new Error(`${op}: expected a floating-point input, got ${x.dtype}`)
  if (
    !Array.isArray(pads) ||
    pads.length % 2 !== 0 ||
    pads.length === 0 ||
    pads.length > 2 * x.ndim ||
    !pads.every(Number.isInteger)
  )
    throw new Error(
      `${op}: pads must be an even-length list of integers, at most 2 per dim of input ${shapeStr(x.shape)}, got ${JSON.stringify(pads)}`,
    )
  const k = pads.length / 2
  // Native order: (before, after) for each padded dim, first padded dim first.
  const nativePads: number[] = []
  const shape = [...x.shape]
  for (let d = x.ndim - k; d < x.ndim; d++) {
    const j = x.ndim - 1 - d
    const [before, after] = [pads[2 * j], pads[2 * j + 1]]
    if (mode === 'reflect' && (before < 0 || after < 0 || before >= x.shape[d] || after >= x.shape[d]))
      throw new Error(
        `${op}: reflect padding (${before}, ${after}) of dim ${d} must be non-negative and less than its size ${x.shape[d]} (input ${shapeStr(x.shape)})`,
      )
    if (mode === 'replicate' && (before < 0 || after < 0 || x.shape[d] === 0))
      throw new Error(
        `${op}: replicate padding (${before}, ${after}) of dim ${d} must be non-negative, on a non-empty dim (input ${shapeStr(x.shape)})`,
      )
    shape[d] += before + after
    if (shape[d] < 1 || x.shape[d] < 1)
      throw new Error(
        `${op}: padding (${before}, ${after}) gives dim ${d} of input ${shapeStr(x.shape)} size ${shape[d]}`,
      )
    nativePads.push(before, after)
  }
  const out = Tensor.empty(shape, x.dtype, x.device)
  x.backend.run(op, out, dense(x), nativePads, mode, value)
  return record(op, out, [x], (g) => {
    const gx = Tensor.empty(x.shape, x.dtype, x.device)
    x.backend.run('padBackward', gx, dense(g), nativePads, mode)
    return [gx]
  })
}

export interface InterpolateOptions {
  size?: number | readonly [number, number]
  scaleFactor?: number | readonly [number, number]
  mode?: 'nearest' | 'bilinear'
  /** bilinear only: align the corner pixels' centres (default false, as in PyTorch). */
  alignCorners?: boolean
}

/** torch.nn.functional.interpolate for 4-d [N, C, H, W] inputs, modes 'nearest' and 'bilinear'. */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  const op = 'interpolate'
  checkTensor(op, x, 'input')
  const mode = opts.mode ?? 'nearest'
  if (mode !== 'nearest' && mode !== 'bilinear')
    throw new Error(`${op}: mode must be 'nearest' or 'bilinear', got '${String(mode)}'`)
  if (x.ndim !== 4) throw new Error(`${op}: mode '${mode}' expects a 4-d [N, C, H, W] input, got ${shapeStr(x.shape)}`)
  if (!isFloating(x.dtype)) throw new Error(`${op}: expected a floating-point input, got ${x.dtype}`)
  if (mode === 'nearest' && opts.alignCorners !== undefined)
    throw new Error(`${op}: alignCorners can only be set with mode 'bilinear'`)
  if ((opts.size === undefined) === (opts.scaleFactor === undefined))
    throw new Error(`${op}: give exactly one of size and scaleFactor`)
  const [N, C, H, W] = x.shape
  let size: [number, number]
  let scales: [number, number] = [0, 0]
  const two = (v: number | readonly [number, number], name: string): [number, number] => {
    if (typeof v === 'number') return [v, v]
    if (Array.isArray(v) && v.length === 2) return [v[0], v[1]]
    throw new Error(`${op}: ${name} must be a number or a pair for the 2 spatial dims, got ${JSON.stringify(v)}`)
  }
  if (opts.size !== undefined) {
    size = two(opts.size, 'size')
    if (!size.every((s) => Number.isInteger(s) && s >= 1))
      throw new Error(`${op}: size must hold positive integers, got ${JSON.stringify(opts.size)}`)
  } else {
    scales = two(opts.scaleFactor as number, 'scaleFactor')
    if (!scales.every((s) => Number.isFinite(s) && s > 0))
      throw new Error(`${op}: scaleFactor must be positive, got ${JSON.stringify(opts.scaleFactor)}`)
    size = [Math.floor(H * scales[0]), Math.floor(W * scales[1])]
    if (size[0] < 1 || size[1] < 1)
      throw new Error(
        `${op}: scaleFactor ${JSON.stringify(opts.scaleFactor)} gives an empty output for input ${shapeStr(x.shape)}`,
      )
  }
  if (H < 1 || W < 1) throw new Error(`${op}: input ${shapeStr(x.shape)} has an empty spatial dim`)
  const align = opts.alignCorners ?? false
  const out = Tensor.empty([N, C, size[0], size[1]], x.dtype, x.device)
  x.backend.run(op, out, dense(x), mode, align, scales[0], scales[1])
  return record(op, out, [x], (g) => {
    const gx = Tensor.empty(x.shape, x.dtype, x.device)
    x.backend.run('interpolateBackward', gx, dense(g), mode, align, scales[0], scales[1])
    return [gx]
  })
}
