// Trains mn-t on Fashion-MNIST (Debian's dataset-fashion-mnist) with checkpoints, then
// evaluates on the 10,000 test images, through the public API only.
//   npx tsx examples/train-fashion-mnist.ts [steps]
// Stop it at any point and run it again: it resumes from runs/fashion-mnist/checkpoint.safetensors.
import * as fs from 'node:fs'
import * as iv from 'intern-vision'

const steps = Number(process.argv[2] ?? 1500)
const batchSize = 64

async function main(): Promise<void> {
  iv.manualSeed(0)
  fs.mkdirSync('runs/fashion-mnist', { recursive: true })
  const train = iv.data.fashionMnist({ split: 'train' })
  const test = iv.data.fashionMnist({ split: 'test' })
  const model = iv.createModel('mn-t', { numClasses: 10, inChannels: 1, imageSize: 28 })
  const optimizer = new iv.AdamW(iv.paramGroupsNoDecay(model.namedParameters(), 0.05), { lr: 0.004 })
  const scheduler = new iv.LRScheduler(
    optimizer,
    iv.warmupCosineSchedule({ warmupSteps: Math.min(100, Math.floor(steps / 10)), totalSteps: steps }),
  )
  const loader = new iv.data.DataLoader(train, { batchSize, shuffle: true, seed: 0, dropLast: true })
  await iv.fit({
    model,
    optimizer,
    scheduler,
    epochs: Math.ceil(steps / Math.floor(train.length / batchSize)),
    maxSteps: steps,
    batches: (epoch) => ((loader.epoch = epoch), loader),
    step: (batch, m) => {
      const b = iv.batchToTensors(batch)
      return iv.crossEntropy(m.forward(b.images) as iv.Tensor, b.labels!.class, { labelSmoothing: 0.1 })
    },
    checkpoint: { path: 'runs/fashion-mnist/checkpoint.safetensors', every: 100 },
    resume: true,
  })
  await loader.close()
  model.eval()
  let correct = 0
  for await (const batch of new iv.data.DataLoader(test, { batchSize: 500 })) {
    correct += iv.scope(() =>
      iv.noGrad(() => {
        const b = iv.batchToTensors(batch)
        return (model.forward(b.images) as iv.Tensor).argmax(1).eq(b.labels!.class).sum().item()
      }),
    )
  }
  console.log(`test accuracy ${((100 * correct) / test.length).toFixed(2)}% after ${steps} steps`)
}

main().catch((e: Error) => {
  console.error(e.message)
  process.exit(1)
})
