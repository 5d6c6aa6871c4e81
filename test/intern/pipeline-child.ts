// Runs the pipeline's 'tiny' preset into argv[2]: the child that pipeline.test.ts kills and restarts.
import { getPipelinePreset, runPipeline } from '../../src/intern/pipeline'

runPipeline({
  preset: getPipelinePreset('tiny'),
  out: process.argv[2],
  quiet: true,
  progress: (line) => console.log(line),
}).catch((e: Error) => {
  console.error(e.message)
  process.exit(1)
})
