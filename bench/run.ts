// npm run bench: every bench script in turn, each in its own process so one section's
// memory or thread state cannot colour the next. `npm run bench -- matmul conv` runs some.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

const sections = [
  'matmul',
  'conv',
  'conv-layers',
  'nn-ops',
  'ops',
  'transfer',
  'optim',
  'train-step',
  'precision',
  'inference',
  'data',
  'stages',
  'stage-gains',
]
const wanted = process.argv.slice(2)
for (const name of wanted.length ? wanted : sections) {
  const file = path.join(__dirname, `${name}.ts`)
  if (!fs.existsSync(file)) {
    console.log(`\n(${name}: no bench/${name}.ts yet)`)
    continue
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' })
  if (r.status !== 0) console.log(`\n(${name} failed with status ${r.status})`)
}
