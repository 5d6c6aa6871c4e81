// Joining and splitting along a dim: cat, stack, split, chunk.
import { record } from '../autograd/node'
import { promoteTypes } from '../tensor/dtype'
import { normalizeDim, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { checkSameDevice, checkTensor } from './util'
import { narrow, unsqueeze } from './views'

export function cat(tensors: Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new Error('cat: expected a non-empty array of tensors')
  tensors.forEach((t, i) => checkTensor('cat', t, `tensors[${i}]`))
  checkSameDevice('cat', ...tensors)
  const first = tensors[0]
  const d = normalizeDim('cat', dim, first.ndim)
  for (const [i, t] of tensors.entries())
    if (t.ndim !== first.ndim || t.shape.some((s, k) => k !== d && s !== first.shape[k]))
      throw new Error(
        `cat: tensors[${i}] has shape ${shapeStr(t.shape)}, which does not match ${shapeStr(first.shape)} outside dim ${d}`,
      )
  const dtype = tensors.map((t) => t.dtype).reduce(promoteTypes)
  const shape = [...first.shape]
  shape[d] = tensors.reduce((n, t) => n + t.shape[d], 0)
  const out = Tensor.empty(shape, dtype, first.device)
  const starts: number[] = []
  let at = 0
  for (const t of tensors) {
    starts.push(at)
    at += t.shape[d]
  }
  // One native pass of block copies where the backend has it and every input is contiguous
  // in the output's dtype; otherwise one copy (with any cast) into each input's region.
  if (out.backend.has('cat') && tensors.every((t) => t.dtype === dtype && t.isContiguous()))
    out.backend.run('cat', out, d, ...tensors)
  else
    tensors.forEach((t, i) => {
      const region = out.asView(t.shape, out.strides, out.offset + starts[i] * out.strides[d])
      out.backend.copy(region, t)
      region.dispose()
    })
  return record('cat', out, tensors, (g) =>
    tensors.map((t, i) => (t.requiresGrad ? narrow(g, d, starts[i], t.shape[d]).to(t.dtype) : null)),
  )
}

export function stack(tensors: Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new Error('stack: expected a non-empty array of tensors')
  tensors.forEach((t, i) => checkTensor('stack', t, `tensors[${i}]`))
  for (const [i, t] of tensors.entries())
    if (t.shape.length !== tensors[0].ndim || t.shape.some((s, k) => s !== tensors[0].shape[k]))
      throw new Error(`stack: tensors[${i}] has shape ${shapeStr(t.shape)}, expected ${shapeStr(tensors[0].shape)}`)
  const d = normalizeDim('stack', dim, tensors[0].ndim + 1)
  return cat(
    tensors.map((t) => unsqueeze(t, d)),
    d,
  )
}

/** Splits into pieces of `size` along dim (the last may be smaller), or into the given sizes. */
export function split(x: Tensor, sizeOrSections: number | number[], dim = 0): Tensor[] {
  checkTensor('split', x, 'input')
  const d = normalizeDim('split', dim, x.ndim)
  const n = x.shape[d]
  let sizes: number[]
  if (typeof sizeOrSections === 'number') {
    if (!Number.isInteger(sizeOrSections) || sizeOrSections <= 0)
      throw new Error(`split: size must be a positive integer, got ${sizeOrSections}`)
    sizes = []
    for (let at = 0; at < n; at += sizeOrSections) sizes.push(Math.min(sizeOrSections, n - at))
  } else {
    sizes = sizeOrSections
    if (sizes.reduce((a, b) => a + b, 0) !== n || sizes.some((s) => !Number.isInteger(s) || s < 0))
      throw new Error(`split: sizes ${shapeStr(sizes)} do not add up to dim ${dim} of size ${n}`)
  }
  let at = 0
  return sizes.map((s) => {
    const piece = narrow(x, d, at, s)
    at += s
    return piece
  })
}

export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  checkTensor('chunk', x, 'input')
  if (!Number.isInteger(chunks) || chunks <= 0)
    throw new Error(`chunk: chunks must be a positive integer, got ${chunks}`)
  const n = x.shape[normalizeDim('chunk', dim, x.ndim)]
  return split(x, Math.max(1, Math.ceil(n / chunks)), dim)
}
