// Parity with PyTorch for the norm / softmax / attention / indexing / loss ops: reads
// test/fixtures/norm_attention_loss.json (scripts/fixtures/norm_attention_loss.py) and checks
// each case's output, input gradients and in-place updates in float64 and float32.
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Test } from 'tap'
import { tensor, type Tensor } from '../../src'
import { assertClose } from '../helpers'

interface Enc {
  shape: number[]
  data: (number | boolean)[]
  dtype?: 'int32' | 'bool'
}

export interface Case {
  op: string
  name: string
  options: Record<string, unknown>
  inputs: Record<string, Enc>
  transposed: string[]
  output: Enc
  gradOutput: Enc
  grads: Record<string, Enc>
  after: Record<string, Enc>
}

const file = path.join(__dirname, '..', 'fixtures', 'norm_attention_loss.json')
const all = (JSON.parse(fs.readFileSync(file, 'utf8')) as { cases: Case[] }).cases

const build = (e: Enc, dtype: 'float32' | 'float64'): Tensor =>
  tensor(e.data.map(Number), { shape: e.shape, dtype: e.dtype ?? dtype })

const tols = { float64: [1e-9, 1e-10], float32: [1e-4, 2e-5] } as const

/** Runs every fixture case of `op` through `call`, whose inputs are keyed as in the fixture. */
export function checkParity(t: Test, op: string, call: (c: Case, inputs: Record<string, Tensor>) => Tensor): void {
  const cases = all.filter((c) => c.op === op)
  t.ok(cases.length > 0, `${op}: fixture cases present`)
  for (const c of cases) {
    for (const dtype of ['float64', 'float32'] as const) {
      const [rtol, atol] = tols[dtype]
      const label = `${op} '${c.name}' ${dtype}`
      const leaves: Record<string, Tensor> = {}
      const args: Record<string, Tensor> = {}
      for (const [k, e] of Object.entries(c.inputs)) {
        const leaf = build(e, dtype)
        if (c.grads[k]) leaf.requiresGrad_(true)
        leaves[k] = leaf
        args[k] = c.transposed.includes(k) ? leaf.transpose(-1, -2) : leaf
      }
      const out = call(c, args)
      assertClose(t, out.data(), build(c.output, 'float64').data(), rtol, atol, `${label} output`)
      for (const [k, e] of Object.entries(c.after))
        assertClose(t, leaves[k].data(), e.data as number[], rtol, atol, `${label} ${k} after`)
      if (Object.keys(c.grads).length === 0) continue
      out.backward(build(c.gradOutput, dtype))
      for (const [k, e] of Object.entries(c.grads)) {
        const g = leaves[k].grad
        if (!g) {
          t.fail(`${label}: no gradient for ${k}`)
          continue
        }
        const logical = c.transposed.includes(k) ? g.transpose(-1, -2) : g
        assertClose(t, logical.data(), e.data as number[], rtol, atol, `${label} grad ${k}`)
      }
    }
  }
}
