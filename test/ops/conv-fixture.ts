// Shared by conv/pool/resample tests: reads test/fixtures/conv_ops.json (written by
// scripts/fixtures/conv_ops.py) and checks an op's output and gradients against PyTorch's,
// in float64 and float32, with x presented in the case's memory layout.
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Test } from 'tap'
import { tensor, type DType, type Tensor } from '../../src'

export interface Encoded {
  shape: number[]
  data: number[]
}

export interface Case {
  op: string
  name: string
  options: Record<string, unknown>
  layout: 'permute' | 'slice' | null
  inputs: Record<string, Encoded>
  output: Encoded
  gradOutput: Encoded
  grads: Record<string, Encoded>
}

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'conv_ops.json'), 'utf8')) as {
  cases: Case[]
}

export function casesFor(op: string): Case[] {
  return fixture.cases.filter((c) => c.op === op)
}

export function fromEncoded(e: Encoded, dtype: DType): Tensor {
  return tensor(e.data, { shape: e.shape, dtype })
}

/** A leaf tensor holding e's values in the given layout (non-contiguous for permute/slice). */
export function leaf(e: Encoded, dtype: DType, layout: Case['layout'] = null): Tensor {
  const x = fromEncoded(e, dtype)
  let view = x
  if (layout === 'permute') view = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
  else if (layout === 'slice') {
    const s = e.shape
    const w = s[s.length - 1]
    const data = new Array<number>(e.data.length * 2).fill(0)
    e.data.forEach((v, i) => (data[Math.floor(i / w) * 2 * w + (i % w) * 2] = v))
    view = tensor(data, { shape: [...s.slice(0, -1), 2 * w], dtype }).slice(-1, 0, 2 * w, 2)
  }
  const out = view.detach().requiresGrad_()
  if (layout && out.isContiguous()) throw new Error(`fixture layout '${layout}' gave a contiguous tensor`)
  return out
}

/** max |a - b| / max(max |b|, 1e-3): the error relative to the reference's scale. */
export function relError(actual: Tensor, expected: Encoded): number {
  const a = actual.to('float64').data()
  let diff = 0
  let scale = 1e-3
  expected.data.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(a[i] - v))
    scale = Math.max(scale, Math.abs(v))
  })
  return diff / scale
}

export const tolerance: Record<'float32' | 'float64', number> = { float32: 1e-4, float64: 1e-10 }

/** Runs every fixture case of `op` in both float dtypes through `run` and compares. */
export function checkParity(t: Test, op: string, run: (c: Case, inputs: Record<string, Tensor>) => Tensor): void {
  const cases = casesFor(op)
  t.ok(cases.length > 0, `the fixture has ${op} cases`)
  for (const c of cases)
    for (const dtype of ['float64', 'float32'] as const) {
      const inputs: Record<string, Tensor> = {}
      for (const [k, e] of Object.entries(c.inputs)) inputs[k] = leaf(e, dtype, k === 'x' ? c.layout : null)
      const out = run(c, inputs)
      const label = `${op} ${c.name} (${dtype})`
      t.same(out.shape, c.output.shape, `${label}: output shape`)
      const err = relError(out, c.output)
      t.ok(err < tolerance[dtype], `${label}: output matches PyTorch (relative error ${err.toExponential(2)})`)
      out.backward(fromEncoded(c.gradOutput, dtype))
      for (const [k, e] of Object.entries(c.grads)) {
        const g = inputs[k].grad
        const gerr = g ? relError(g, e) : Infinity
        t.ok(
          gerr < tolerance[dtype],
          `${label}: gradient of ${k} matches PyTorch (relative error ${gerr.toExponential(2)})`,
        )
      }
    }
}

/** A native tensor descriptor, for calling kernels directly. */
export function descriptor(t: Tensor): [ArrayBuffer, number, number[], number[], number] {
  const codes: Record<string, number> = { float32: 0, float64: 1, int32: 2, uint8: 3, bool: 4 }
  return [t.storage.handle as ArrayBuffer, t.offset, [...t.shape], [...t.strides], codes[t.dtype]]
}
