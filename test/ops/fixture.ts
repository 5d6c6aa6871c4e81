// Parity with PyTorch for one op family: reads test/fixtures/<family>.json (written by
// scripts/fixtures/<family>.py; the case format is scripts/fixtures/common.py's) and checks
// each case's output, input gradients and in-place updates in float64 and float32, with every
// input presented in the case's memory layout.
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Test } from 'tap'
import { stack, tensor, zeros, type Tensor } from '../../src'
import { assertClose } from '../helpers'

export type Family =
  'conv' | 'pool' | 'resample' | 'norm' | 'softmax' | 'attention' | 'indexing' | 'loss' | 'elementwise'

interface Encoded {
  shape: number[]
  data: (number | boolean)[]
  dtype?: 'int32' | 'bool'
}

type Layout = 'permute' | 'slice' | 'transpose'
type FloatType = 'float32' | 'float64'

export interface Case {
  op: string
  name: string
  options: Record<string, unknown>
  layouts: Record<string, Layout>
  inputs: Record<string, Encoded>
  output: Encoded
  gradOutput: Encoded
  grads: Record<string, Encoded>
  after: Record<string, Encoded>
}

interface Tolerance {
  rtol: number
  atol: number
  /** atol is relative to the reference's largest magnitude (at least 1e-3), not absolute. */
  scaled?: boolean
}

// Conv, pool and resample outputs are long sums whose rounding follows their largest term, so
// their error is bounded relative to the reference's scale; the others element by element.
const byScale: Record<FloatType, Tolerance> = {
  float64: { rtol: 0, atol: 1e-10, scaled: true },
  float32: { rtol: 0, atol: 1e-4, scaled: true },
}
const byElement: Record<FloatType, Tolerance> = {
  float64: { rtol: 1e-9, atol: 1e-10 },
  float32: { rtol: 1e-4, atol: 2e-5 },
}
const tolerances: Record<Family, Record<FloatType, Tolerance>> = {
  conv: byScale,
  pool: byScale,
  resample: byScale,
  norm: byElement,
  softmax: byElement,
  attention: byElement,
  indexing: byElement,
  loss: byElement,
  elementwise: byElement,
}

const loaded = new Map<Family, Case[]>()

function casesOf(family: Family): Case[] {
  let cases = loaded.get(family)
  if (!cases) {
    const file = path.join(__dirname, '..', 'fixtures', `${family}.json`)
    cases = (JSON.parse(fs.readFileSync(file, 'utf8')) as { cases: Case[] }).cases
    loaded.set(family, cases)
  }
  return cases
}

const build = (e: Encoded, dtype: FloatType): Tensor =>
  tensor(e.data.map(Number), { shape: e.shape, dtype: e.dtype ?? dtype })

/** x's values as the non-contiguous view the fixture's layout names. */
function present(x: Tensor, layout: Layout): Tensor {
  if (layout === 'permute') return x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
  if (layout === 'transpose') return x.transpose(-1, -2).contiguous().transpose(-1, -2)
  // Every other column of a twice-as-wide tensor: x interleaved with zeros, then strided.
  const w = x.shape[x.shape.length - 1]
  const wide = stack([x, zeros(x.shape, { dtype: x.dtype })], -1).reshape([...x.shape.slice(0, -1), 2 * w])
  return wide.slice(-1, 0, 2 * w, 2)
}

function check(t: Test, actual: Tensor, expected: Encoded, tol: Tolerance, msg: string): void {
  const e = expected.data as number[]
  const atol = tol.scaled ? tol.atol * e.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-3) : tol.atol
  assertClose(t, actual.data(), e, tol.rtol, atol, msg)
}

/** Runs every case of `op` in `family`'s fixture through `run`, in both float dtypes, and compares. */
export function checkParity(
  t: Test,
  family: Family,
  op: string,
  run: (c: Case, inputs: Record<string, Tensor>) => Tensor,
): void {
  const cases = casesOf(family).filter((c) => c.op === op)
  t.ok(cases.length > 0, `${op}: fixture cases present in ${family}.json`)
  for (const c of cases)
    for (const dtype of ['float64', 'float32'] as const) {
      const tol = tolerances[family][dtype]
      const label = `${op} '${c.name}' ${dtype}`
      const inputs: Record<string, Tensor> = {}
      for (const [k, e] of Object.entries(c.inputs)) {
        const layout = c.layouts[k]
        const x = layout ? present(build(e, dtype), layout).detach() : build(e, dtype)
        if (layout && x.isContiguous()) throw new Error(`fixture layout '${layout}' gave a contiguous tensor`)
        inputs[k] = c.grads[k] ? x.requiresGrad_(true) : x
      }
      const out = run(c, inputs)
      t.same(out.shape, c.output.shape, `${label} output shape`)
      check(t, out, c.output, tol, `${label} output`)
      for (const [k, e] of Object.entries(c.after)) check(t, inputs[k], e, tol, `${label} ${k} after`)
      if (Object.keys(c.grads).length === 0) continue
      out.backward(build(c.gradOutput, dtype))
      for (const [k, e] of Object.entries(c.grads)) {
        const g = inputs[k].grad
        if (g) check(t, g, e, tol, `${label} grad ${k}`)
        else t.fail(`${label}: no gradient for ${k}`)
      }
    }
}
