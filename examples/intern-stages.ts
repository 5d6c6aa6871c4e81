// The INTERN upstream stages from a user's own script, through the public API only: Up-A, a
// classification expert from it, a generalist of that expert and a detection expert, then the
// generalist scored on one GV-B task with the linear probe. Tiny step counts: a walk-through,
// not a result (`npm start` runs the real pipeline).
//
//   npx tsx examples/intern-stages.ts [out-dir]
import * as iv from 'intern-vision'

const out = process.argv[2] ?? 'runs/example-stages'
const common = { backbone: 'mn-t', imageSize: 32, lr: 2e-3, seed: 0, log: { quiet: true } }

async function main(): Promise<void> {
  await iv.intern.trainAmateur({ ...common, steps: 20, batchSize: 16, out: `${out}/amateur` })
  for (const type of ['C', 'D'] as const) {
    await iv.intern.trainExpert({
      ...common,
      type,
      init: { amateur: `${out}/amateur` },
      steps: 20,
      batchSize: 12,
      out: `${out}/expert-${type}`,
    })
  }
  await iv.intern.trainGeneralist({
    ...common,
    experts: [`${out}/expert-C`, `${out}/expert-D`],
    steps: 10,
    batchSize: 12,
    out: `${out}/generalist-C-D`,
  })
  const backbone = iv.intern.loadUpstreamBackbone(`${out}/generalist-C-D`)
  const task = iv.benchmark.getTask('fashion-mnist')
  const row = await iv.benchmark.linearProbe(backbone, task, { method: 'up-g-cd', percent: 10, seed: 0 })
  console.log(
    `Up-G (C-D) on ${task.name}, 10% of its training data, linear probe: ${(row.value * 100).toFixed(1)}% ${task.metric}`,
  )
}

main().catch((e: Error) => {
  console.error(e.message)
  process.exit(1)
})
