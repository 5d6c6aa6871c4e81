// Trains mn-t on Fashion-MNIST (Debian's dataset-fashion-mnist) with checkpoints, then
// evaluates on the 10,000 test images. Run: npx tsx examples/train-fashion-mnist.ts [steps]
// Stop it at any point and run it again: it resumes from runs/fashion-mnist/checkpoint.safetensors.
import { train } from '../src/cli/train'

const steps = Number(process.argv[2] ?? 1500)
train({
  data: 'fashion-mnist',
  model: 'mn-t',
  steps,
  batchSize: 64,
  lr: 0.004,
  imageSize: 28,
  trainSize: 60000,
  testSize: 10000,
  workers: 1,
  seed: 0,
  out: 'runs/fashion-mnist',
  resume: true,
}).catch((e: Error) => {
  console.error(e.message)
  process.exit(1)
})
