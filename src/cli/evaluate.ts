// `intern-vision evaluate`: scores one backbone on GV-B tasks and merges its rows into a run
// folder's results.json and report. The backbone is a zoo model (random init, or weights from a
// safetensors file such as a torchvision ResNet state dict exported from PyTorch), a finished
// stage folder, or a stage's model.safetensors.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { runBenchmark, type BenchmarkModel } from '../benchmark/run'
import { PROTOCOLS, type ProtocolName } from '../benchmark/protocols/protocol'
import { DEFAULT_TASKS, getTask } from '../benchmark/tasks'
import { loadUpstreamBackbone } from '../intern/generalist'
import { CARD_FILE, readStageCard } from '../intern/stage-io'
import { readFile } from '../io/safetensors'
import { createModel, listModels, type Backbone } from '../models/zoo'
import { manualSeed } from '../tensor/random'
import type { Tensor } from '../tensor/tensor'
import { profileUsage, profiled, takeProfileFlag } from '../profiler/cli'

export const EVALUATE_USAGE = `usage: intern-vision evaluate --model <zoo name | stage folder | file.safetensors> --out DIR [options]

Scores a backbone on GV-B tasks; its rows merge into DIR/results.json, DIR/report.md and
DIR/report.html (rows already there are kept and not rerun).
  --model M          a zoo name (mn-t, resnet18, ...; or a MetaNet config .json) with random init,
                     a finished stage folder, or a stage's model.safetensors
  --weights FILE     safetensors weights for a zoo --model (e.g. a torchvision ResNet state dict),
                     loaded on the backbone's own keys (others, like fc.*, are left out)
  --tasks a,b        benchmark tasks (default: ${DEFAULT_TASKS.join(',')})
  --percent 10,100   percent of each task's training split (default 10)
  --seeds 0,1,2      seeds (default 0)
  --protocol P       linear (frozen backbone) or finetune, or both: linear,finetune (default linear)
  --out DIR          the run folder (required)
  --id NAME          method id of the rows (default: from the model)
  --label TEXT       how the report names the method (default: the id)
${profileUsage(21)}`

/** Thrown for bad command-line input: one line, exit code 2. */
class UsageError extends Error {}

function list(flag: string, text: string): string[] {
  const items = text.split(',').map((s) => s.trim())
  if (items.some((s) => s === '')) throw new UsageError(`--${flag} must be a comma-separated list, got '${text}'`)
  return items
}

function numbers(flag: string, text: string, ok: (n: number) => boolean, what: string): number[] {
  return list(flag, text).map((s) => {
    const n = Number(s)
    if (!ok(n)) throw new UsageError(`--${flag}: '${s}' is not ${what}`)
    return n
  })
}

const TENSOR_PREFIXES = ['', 'backbone.', 'module.']

/**
 * Loads the tensors of `file` that a `name` backbone has (strict=false on the backbone's keys:
 * classifier weights and the like are left out). Keys may carry a 'backbone.' or 'module.'
 * prefix. ResNets come in two stems (small-image below 96 px, torchvision's otherwise): the one
 * the weights fit is used. Refuses when no key matches or a matching key's shape differs;
 * `flag` starts the error messages (the option that named the file).
 */
export function loadBackboneWeights(
  name: string,
  file: string,
  imageSize: number,
  flag = '--weights',
): { backbone: Backbone; loaded: number; missing: string[]; unused: string[] } {
  if (!fs.existsSync(file)) throw new UsageError(`${flag}: no such file '${file}'`)
  let tensors: Record<string, Tensor>
  try {
    tensors = readFile(file).tensors
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`)
  }
  const disposeAll = () => Object.values(tensors).forEach((t) => t.dispose())
  try {
    const keys = Object.keys(tensors)
    const problems: string[] = []
    let bestOwn: string[] = []
    for (const size of [...new Set([imageSize, 224])]) {
      const backbone = createModel(name, { imageSize: size })
      const own = backbone.stateDict()
      const prefix = TENSOR_PREFIXES.map((p) => ({
        p,
        n: keys.filter((k) => k.startsWith(p) && k.slice(p.length) in own).length,
      })).sort((a, b) => b.n - a.n)[0]
      if (prefix.n === 0) {
        bestOwn = Object.keys(own)
        continue
      }
      const picked: Record<string, Tensor> = {}
      const mismatched: string[] = []
      for (const k of keys) {
        const key = k.slice(prefix.p.length)
        if (!k.startsWith(prefix.p) || !(key in own)) continue
        const [a, b] = [tensors[k].shape, own[key].shape]
        if (a.length !== b.length || a.some((d, i) => d !== b[i]))
          mismatched.push(`${key}: file [${a.join(', ')}], model [${b.join(', ')}]`)
        else picked[key] = tensors[k]
      }
      if (mismatched.length) {
        problems.push(
          `${size < 96 ? 'small-image' : 'standard'} stem: ${mismatched.length} shape mismatch(es), e.g. ${mismatched.slice(0, 3).join('; ')}`,
        )
        continue
      }
      backbone.loadStateDict(picked, { strict: false })
      const missing = Object.keys(own).filter((k) => !(k in picked))
      const unused = keys.filter((k) => !(k.slice(prefix.p.length) in picked) || !k.startsWith(prefix.p))
      return { backbone, loaded: Object.keys(picked).length, missing, unused }
    }
    if (problems.length === 0) {
      throw new UsageError(
        `${flag}: no tensor of '${file}' matches a ${name} backbone (the file has e.g. ${keys.slice(0, 3).join(', ') || 'no tensors'}; ` +
          `the backbone expects e.g. ${bestOwn.slice(0, 3).join(', ')})`,
      )
    }
    throw new UsageError(`${flag}: '${file}' does not fit a ${name} backbone: ${problems.join(' / ')}`)
  } finally {
    disposeAll()
  }
}

/** The zoo name a stage's model file records in its metadata, if any. */
function architectureOf(file: string): string | undefined {
  try {
    return readFile(file).metadata['intern.backbone']
  } catch (e) {
    throw new UsageError(`--model: ${(e as Error).message}`)
  }
}

const isZooName = (name: string): boolean => listModels().some((m) => m.name === name)
const stem = (file: string): string => path.basename(file).replace(/\.(safetensors|json)$/, '')

/** What --model (and --weights) name, as a benchmark model that loads lazily. */
export function resolveModel(spec: string, weights: string | undefined, imageSize: number): BenchmarkModel {
  if (fs.existsSync(spec) && fs.statSync(spec).isDirectory()) return stageModel(spec, weights)
  if (spec.endsWith('.safetensors')) {
    if (!fs.existsSync(spec)) throw new UsageError(`--model: no such file '${spec}'`)
    if (fs.existsSync(path.join(path.dirname(spec), CARD_FILE))) return stageModel(path.dirname(spec), weights)
    if (weights) throw new UsageError('--weights goes with a zoo --model name, not with a weights file as --model')
    const arch = architectureOf(spec)
    if (!arch) {
      throw new UsageError(
        `--model: '${spec}' does not say which architecture it holds (no 'intern.backbone' metadata); pass --model <zoo name> --weights ${spec}`,
      )
    }
    return {
      id: stem(spec),
      label: stem(spec),
      description: `${arch} weights from ${spec}`,
      load: () => loadBackboneWeights(arch, spec, imageSize, '--model').backbone,
    }
  }
  if (spec.endsWith('.json') ? !fs.existsSync(spec) : !isZooName(spec)) {
    throw new UsageError(
      `--model: '${spec}' is not a zoo model (${listModels()
        .map((m) => m.name)
        .join(', ')}), a stage folder, a .safetensors file or a MetaNet config .json`,
    )
  }
  if (weights) {
    // Check the file now, so a bad file fails before any work.
    const { backbone, loaded, missing, unused } = loadBackboneWeights(spec, weights, imageSize)
    if (missing.length)
      console.error(
        `evaluate: ${missing.length} backbone tensor(s) not in '${weights}' keep their random init (e.g. ${missing.slice(0, 3).join(', ')})`,
      )
    if (unused.length)
      console.error(
        `evaluate: ${unused.length} tensor(s) of '${weights}' are not part of the backbone and were left out (e.g. ${unused.slice(0, 3).join(', ')})`,
      )
    const id = stem(weights)
    return { id, label: id, description: `${spec} with ${loaded} tensors from ${weights}`, load: () => backbone }
  }
  const id = spec.endsWith('.json') ? stem(spec) : spec
  // Random init from seed 0: the same untrained network every time it is scored.
  const load = (): Backbone => (manualSeed(0), createModel(spec, { imageSize }))
  return { id, label: id, description: `${spec}, random init (no pretraining)`, load }
}

function stageModel(dir: string, weights: string | undefined): BenchmarkModel {
  if (weights) throw new UsageError('--weights goes with a zoo --model name, not with a stage folder')
  let card
  try {
    card = readStageCard(dir)
  } catch (e) {
    throw new UsageError(`--model: ${(e as Error).message}`)
  }
  return {
    id: card.name,
    label: card.name,
    description: `${card.kind} stage '${card.name}' (${card.backbone}) from ${dir}`,
    load: () => loadUpstreamBackbone(dir),
  }
}

export async function evaluateCommand(argv: string[]): Promise<number> {
  try {
    const flags = takeProfileFlag(argv)
    const { values } = parseArgs({
      args: flags.argv,
      options: {
        model: { type: 'string' },
        weights: { type: 'string' },
        tasks: { type: 'string' },
        percent: { type: 'string', default: '10' },
        seeds: { type: 'string', default: '0' },
        protocol: { type: 'string', default: 'linear' },
        out: { type: 'string' },
        id: { type: 'string' },
        label: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    })
    if (values.help) {
      console.log(EVALUATE_USAGE)
      return 0
    }
    if (!values.model) throw new UsageError('--model is required')
    if (!values.out) throw new UsageError('--out is required')
    const tasks = (values.tasks ? list('tasks', values.tasks) : DEFAULT_TASKS).map((name) => {
      try {
        return getTask(name)
      } catch (e) {
        throw new UsageError(`--tasks: ${(e as Error).message}`)
      }
    })
    const percents = numbers('percent', values.percent!, (n) => n > 0 && n <= 100, 'a percent in (0, 100]')
    const seeds = numbers('seeds', values.seeds!, (n) => Number.isSafeInteger(n) && n >= 0, 'a non-negative integer')
    const protocols = list('protocol', values.protocol!).map((p) => {
      if (!PROTOCOLS.includes(p as ProtocolName))
        throw new UsageError(`--protocol: '${p}' is not one of ${PROTOCOLS.join(', ')}`)
      return p as ProtocolName
    })
    const model = resolveModel(values.model, values.weights, Math.max(...tasks.map((t) => t.imageSize)))
    if (values.id !== undefined) {
      if (!/^[\w.+-]+$/.test(values.id))
        throw new UsageError(`--id must be letters, digits and . _ + -, got '${values.id}'`)
      model.id = values.id
    }
    if (values.label !== undefined) model.label = values.label
    else if (values.id !== undefined) model.label = values.id
    const out = values.out
    const results = await profiled(flags.profile, () =>
      runBenchmark({
        models: [model],
        tasks,
        percents,
        seeds,
        protocols,
        out,
        onRow: (r) =>
          console.error(
            `${r.method} ${r.task} ${r.percent}% ${r.protocol} seed ${r.seed}: ${r.value.toFixed(4)} (${r.seconds.toFixed(1)} s)`,
          ),
      }),
    )
    const rows = results.rows.filter((r) => r.method === model.id).length
    console.log(
      `${model.id}: ${rows} row(s) in ${path.join(values.out, 'results.json')}; report in ${path.join(values.out, 'report.html')}`,
    )
    return 0
  } catch (e) {
    const err = e as Error & { code?: string }
    const usage = e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')
    console.error(`intern-vision evaluate: ${err.message.replace(/\s*\n\s*/g, ' ')}`)
    return usage ? 2 : 1
  }
}
