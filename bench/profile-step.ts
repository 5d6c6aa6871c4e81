// One profiled training step (batch 64, 2 threads, SGD with momentum: bench/train-step.ts's
// step), after warm-up steps, with its parts labelled by recordFunction. ResNet-18 (CIFAR
// layout, 32x32) unless MODEL names a MetaNet (mn-t, mn-s, mn-b4, ...) and SIZE its input.
// Prints the per-op table and, with a path argument, writes the Chrome trace.
//   [MODEL=mn-t SIZE=32] npx tsx bench/profile-step.ts [trace.json]
import * as os from 'node:os'
import * as iv from '../src'
import { MetaNet, resnet18 } from '../src/models'

const batch = Number(process.env.BENCH_TRAIN_BATCH ?? 64)
iv.setNumThreads(2)
iv.manualSeed(0)

const name = process.env.MODEL ?? 'resnet18'
const size = Number(process.env.SIZE ?? 32)
const model = name === 'resnet18' ? resnet18({ numClasses: 10, cifar: true }) : new MetaNet(name, { numClasses: 10 })
const opt = new iv.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 })
const x = iv.randn([batch, 3, size, size])
const y = iv.randint(0, 10, [batch])
model.train()

const step = () =>
  iv.scope(() => {
    opt.zeroGrad()
    const loss = iv.recordFunction('forward', () => iv.crossEntropy(model.forward(x) as iv.Tensor, y))
    loss.backward()
    iv.recordFunction('optimizer.step', () => opt.step())
  })

for (let i = 0; i < 3; i++) step()
const load = os.loadavg()[0]
const result = iv.profile(step, { print: false, trace: process.argv[2], rowLimit: 30 })
console.log(
  `${name === 'resnet18' ? 'ResNet-18 CIFAR' : name} training step, ${size} px, batch ${batch}, ${iv.getNumThreads()} threads; load average ${load.toFixed(1)} on ${os.cpus().length} cores`,
)
console.log(result.table())
