// One profiled training step (batch 64, 2 threads, SGD with momentum: bench/train-step.ts's
// step), after warm-up steps, with its parts labelled by recordFunction. ResNet-18 (CIFAR
// layout at 64 px and below, ImageNet's above) unless MODEL names a MetaNet (mn-t, mn-s,
// mn-b4, ...); SIZE is the input size, BENCH_TRAIN_BATCH the batch. EVAL=1 profiles an
// inference forward instead (eval mode, no grad), SHAPES=1 gives each kernel's input shapes a
// row of their own (recordShapes), ROWS the table's rows (30). Prints the per-op table and, with
// a path argument, writes the Chrome trace.
//   [MODEL=mn-t SIZE=32] npx tsx bench/profile-step.ts [trace.json]
//   EVAL=1 SHAPES=1 BENCH_TRAIN_BATCH=1 SIZE=224 npx tsx bench/profile-step.ts
import * as os from 'node:os'
import * as iv from '../src'
import { MetaNet, resnet18 } from '../src/models'

const batch = Number(process.env.BENCH_TRAIN_BATCH ?? 64)
iv.setNumThreads(2)
iv.manualSeed(0)

const name = process.env.MODEL ?? 'resnet18'
const size = Number(process.env.SIZE ?? 32)
const inference = process.env.EVAL === '1'
const model =
  name === 'resnet18' ? resnet18({ numClasses: 10, cifar: size <= 64 }) : new MetaNet(name, { numClasses: 10 })
const opt = new iv.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 })
const x = iv.randn([batch, 3, size, size])
const y = iv.randint(0, 10, [batch])
if (inference) model.eval()
else model.train()

const trainStep = () =>
  iv.scope(() => {
    opt.zeroGrad()
    const loss = iv.recordFunction('forward', () => iv.crossEntropy(model.forward(x) as iv.Tensor, y))
    loss.backward()
    iv.recordFunction('optimizer.step', () => opt.step())
  })
const forward = () => iv.scope(() => iv.noGrad(() => void model.forward(x)))
const step = inference ? forward : trainStep

// Steps for 2 s first (at least 3), so that the profile shows V8's optimised JavaScript, as in
// a training run past its first steps.
const warmUntil = performance.now() + 2000
for (let i = 0; i < 3 || performance.now() < warmUntil; i++) step()
const load = os.loadavg()[0]
const recordShapes = process.env.SHAPES === '1'
const result = iv.profile(step, {
  print: false,
  trace: process.argv[2],
  rowLimit: Number(process.env.ROWS ?? 30),
  recordShapes,
})
const what = name === 'resnet18' ? `ResNet-18${size <= 64 ? ' CIFAR' : ''}` : name
console.log(
  `${what} ${inference ? 'inference forward' : 'training step'}, ${size} px, batch ${batch}, ${iv.getNumThreads()} threads; load average ${load.toFixed(1)} on ${os.cpus().length} cores`,
)
console.log(result.table())
