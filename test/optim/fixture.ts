// Reading test/fixtures/optim.json (written by scripts/fixtures/optim.py).
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as iv from '../../src'
import { Adam, AdamW, LARS, SGD, type Optimizer } from '../../src/optim'

export type Dtype = 'float32' | 'float64'
export interface OptCase {
  name: string
  optimizer: 'SGD' | 'Adam' | 'AdamW' | 'LARS'
  dtype: Dtype
  options: Record<string, unknown>
  shapes: number[][]
  groups: { params: number[]; options: Record<string, unknown> }[]
  params: number[][]
  grads: number[][][]
  skipGrad: [number, number] | null
  trajectory: number[][][]
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const fixture: any = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'optim.json'), 'utf8'))

export const tol = (d: Dtype) => (d === 'float64' ? { rtol: 1e-10, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-6 })

export const make = (data: number[], shape: number[], dtype: Dtype): iv.Tensor =>
  iv.tensor(dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data), { shape })

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each optimizer has its own hyperparameter type
export function buildOptimizer(c: OptCase, params: iv.Tensor[]): Optimizer<any> {
  const groups = c.groups.map((g) => ({ params: g.params.map((i) => params[i]), ...g.options }))
  switch (c.optimizer) {
    case 'SGD':
      return new SGD(groups, c.options)
    case 'Adam':
      return new Adam(groups, c.options)
    case 'AdamW':
      return new AdamW(groups, c.options)
    case 'LARS':
      return new LARS(groups, c.options)
  }
}

/** Sets the gradients of step s (null for the case's skipped one). */
export function setGrads(c: OptCase, params: iv.Tensor[], s: number): void {
  params.forEach((p, i) => {
    const skip = c.skipGrad && c.skipGrad[0] === s && c.skipGrad[1] === i
    p.grad = skip ? null : make(c.grads[s][i], c.shapes[i], c.dtype)
  })
}
