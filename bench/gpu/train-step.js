'use strict'
// GPU training steps, entirely on the device: ResNet-50 and MN-B4 at 224 px, forward +
// backward + SGD, float32, images/s beside PyTorch eager (torch_train.py) in the same run.
// A missing CUDA kernel is reported by name instead of aborting the rest.
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const iv = require('../../lib')
const cuda = require('../../lib/cuda')

const OUT = process.env.OUT || path.join(__dirname, '..', 'out')
const batch = Number(process.env.TRAIN_BATCH || 32)
const size = 224
if (!cuda.isAvailable()) {
  console.error(`CUDA is not available: ${cuda.unavailableReason()}`)
  process.exit(2)
}

function imagesPerSecond(model) {
  model.to('cuda').train()
  const opt = new iv.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 })
  const x = iv.randn([batch, 3, size, size]).to('cuda')
  const y = iv.randint(0, 1000, [batch]).to('cuda')
  const step = () =>
    iv.scope(() => {
      opt.zeroGrad()
      const loss = iv.crossEntropy(model.forward(x), y)
      loss.backward()
      opt.step()
      return loss.item()
    })
  const first = step()
  if (!Number.isFinite(first)) throw new Error(`the first loss is ${first}`)
  step()
  cuda.synchronize()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < 5; i++) step()
  cuda.synchronize()
  return (batch * 5) / (Number(process.hrtime.bigint() - t0) / 1e9)
}

const rows = []
for (const [name, make] of [
  ['resnet50', () => iv.models.resnet50({ numClasses: 1000 })],
  ['mn-b4', () => new iv.models.MetaNet('mn-b4', { numClasses: 1000 })],
]) {
  try {
    rows.push([name, imagesPerSecond(make()).toFixed(1)])
  } catch (e) {
    rows.push([name, `failed: ${String(e.message).split('\n')[0].slice(0, 160)}`])
  }
  cuda.emptyCache()
}
const r = spawnSync('python3', [path.join(__dirname, 'torch_train.py'), String(batch), String(size)], {
  encoding: 'utf8',
})
const torch = r.status === 0 ? JSON.parse(r.stdout.trim().split('\n').pop()) : {}
if (r.status !== 0) console.log(`PyTorch side failed: ${r.stderr.slice(-400)}`)
const lines = [
  `## GPU training step, batch ${batch}, ${size} px, float32 (${cuda.deviceName()})`,
  '',
  '| model | ours img/s | PyTorch eager img/s | ratio |',
  '| --- | ---: | ---: | ---: |',
  ...rows.map(
    ([n, v]) =>
      `| ${n} | ${v} | ${torch[n] ? torch[n].toFixed(1) : '-'} | ${torch[n] && !v.startsWith('failed') ? (Number(v) / torch[n]).toFixed(2) : '-'} |`,
  ),
]
console.log(lines.join('\n'))
fs.writeFileSync(path.join(OUT, 'train-table.md'), lines.join('\n') + '\n')
