// Reads test/fixtures/heads.json (scripts/fixtures/heads.py): PyTorch references for the heads'
// box arithmetic, losses and FCOS target assignment.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { tensor, type Tensor } from '../../../src'

export interface Enc {
  shape: number[]
  data: number[]
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const heads: Record<string, any[]> = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'heads.json'), 'utf8'),
)

export const build = (e: Enc, dtype: 'float32' | 'float64' = 'float64'): Tensor =>
  tensor(e.data, { shape: e.shape, dtype })
