// `intern-vision run`: the whole INTERN pipeline (upstream stages, baselines, GV-B, Down-A) and
// its report. Started again on the same --out, it continues where it stopped.
import { parseArgs } from 'node:util'
import * as path from 'node:path'
import { launchEnv } from '../distributed/env'
import { getPipelinePreset, PIPELINE_PRESETS, runPipeline, type PipelinePreset } from '../intern/pipeline'
import { profileUsage, profiled, takeProfileFlag, type ProfileFlag } from '../profiler/cli'

export const runUsage = `usage: intern-vision run [--preset NAME] [--out DIR] [--quiet]

Runs INTERN end to end: Up-A, the C, D and S experts, the generalists C-D and C-D-S, the
single-source and image-text baselines, GV-B on every model at 10% and 100%, Down-A, and
writes DIR/report.html, report.md and results.json (rewritten after every stage and task).
Run it again with the same --out to continue a stopped run.

  --preset NAME  ${Object.keys(PIPELINE_PRESETS).join(' | ')} (default cpu-default: one seed, about 20 minutes
                 on 2 cores; cpu-full: a ten times longer upstream and 3 seeds)
  --out DIR      the run folder (default runs/intern-<preset>)
  --quiet        no per-stage progress bars
${profileUsage(17)}

The pipeline runs as one process: besides its training stages it scores every model and writes
one report, which are not split among ranks. --nproc is refused, and so is a start by mpirun or
srun with more than one rank; train a stage data-parallel with \`intern-vision pretrain --nproc N\`.`

export async function runCommand(argv: string[]): Promise<number> {
  let preset: PipelinePreset
  let out: string
  let quiet: boolean
  let profile: ProfileFlag | null
  try {
    const flags = takeProfileFlag(argv)
    profile = flags.profile
    const { values } = parseArgs({
      args: flags.argv,
      options: {
        preset: { type: 'string', default: 'cpu-default' },
        out: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        nproc: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    })
    if (values.help) {
      console.log(runUsage)
      return 0
    }
    const launched = launchEnv()
    if (values.nproc !== undefined || launched.worldSize > 1)
      throw new Error(
        `${values.nproc !== undefined ? `--nproc ${values.nproc}` : `${launched.worldSize} ranks (started by ${launched.launcher})`}: the pipeline runs as one process ` +
          '(its benchmark and report steps are not data-parallel); train a stage data-parallel with `intern-vision pretrain --nproc N`',
      )
    preset = getPipelinePreset(values.preset!)
    out = values.out ?? path.join('runs', `intern-${preset.name}`)
    quiet = values.quiet!
  } catch (e) {
    // A bad option or preset: one line, exit 2, nothing started.
    console.error(`intern-vision run: ${(e as Error).message}`)
    return 2
  }
  console.error(`intern-vision run: preset ${preset.name} (${preset.description}) into ${out}`)
  await profiled(profile, () => runPipeline({ preset, out, quiet }))
  return 0
}
