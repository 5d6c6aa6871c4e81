import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'

// The engine's modules import each other (Tensor methods call the ops, the ops make Tensors).
// Whichever module a user loads first, everything must come out complete.
const src = path.resolve(__dirname, '..', '..', 'src')
const entries = ['ops/index.ts', 'ops/elementwise.ts', 'ops/norm.ts', 'io/safetensors.ts', 'nn/index.ts', 'models/index.ts', 'tensor/creation.ts', 'backend/index.ts', 'optim/index.ts', 'data/to-tensor.ts']

t.test('any module can be the first one loaded', async (t) => {
  for (const entry of entries) {
    const script = `
      require(${JSON.stringify(path.join(src, entry))})
      const iv = require(${JSON.stringify(src)})
      const x = iv.tensor([[-4, 0.5], [1, 4]])
      const y = x.hardsigmoid().add(x.softmax(1)).sum().item()
      if (typeof iv.conv2d !== 'function' || typeof iv.nn.Linear !== 'function') throw new Error('exports missing')
      console.log(y)
    `
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' })
    t.equal(r.status, 0, `${entry} first: ${r.stderr.split('\n').find((l) => /Error/.test(l)) ?? 'ok'}`)
    t.ok(Math.abs(Number(r.stdout.trim()) - (0 + 7 / 12 + 0.6666666 + 1 + 2)) < 1e-4, `${entry} first: correct value`)
  }
})
