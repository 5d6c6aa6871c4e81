// Whether each upstream stage of the cpu-quick preset improves on its starting point, on the
// held-out upstream val split (issue #11): Up-A's zero-shot retrieval against the same model at
// random init, and each Up-E expert started from that amateur against the same type trained for
// the same steps from random init. Seeds 0, 1, 2; mean +- sample std. Up-G is not scored here:
// no evaluator reads a generalist folder, and the generalist is judged by GV-B instead.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { manualSeed } from '../src/tensor/random'
import { evaluateAmateur, trainAmateur } from '../src/intern/amateur'
import { captionTokenizer } from '../src/intern/amateur-data'
import { AmateurModel, DEFAULT_MODEL_SHAPE, type AmateurModelConfig } from '../src/intern/amateur-model'
import { evaluateExpert, trainExpert } from '../src/intern/expert'
import { getPreset } from '../src/intern/presets'
import { saveStage, type ExpertType } from '../src/intern/stage-io'
import { packageVersion } from '../src/runtime'
import { printTable } from './util'

const preset = getPreset('cpu-quick')
const SEEDS = [0, 1, 2]
const EXPERT_METRIC: Record<ExpertType, string> = { C: 'top-1 %', D: 'AP50 %', S: 'mIoU %' }
const quiet = { quiet: true }

/** The Up-A model trainAmateur would build for this seed, saved untrained as an amateur stage folder. */
async function saveRandomAmateur(dir: string, seed: number): Promise<void> {
  const a = preset.amateur
  manualSeed(seed)
  const tokenizer = await captionTokenizer(a.sources)
  const model: AmateurModelConfig = {
    backbone: a.backbone,
    imageSize: a.imageSize,
    ...DEFAULT_MODEL_SHAPE,
    text: { ...DEFAULT_MODEL_SHAPE.text },
    tokenizer: tokenizer.toJSON(),
    selfSupervised: 'simsiam',
  }
  saveStage(dir, new AmateurModel(model), {
    name: 'amateur',
    kind: 'amateur',
    version: packageVersion(),
    backbone: a.backbone,
    imageSize: a.imageSize,
    sources: a.sources,
    steps: 0,
    batchSize: a.batchSize,
    seconds: 0,
    finalLosses: {},
    parents: [],
    config: { seed, model },
    createdAt: new Date().toISOString(),
  })
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length
const std = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1))
const sourceMean = (r: Record<string, number>) => mean(Object.values(r))

/** Metric name -> [from-start values, trained values], one per seed, in percent. */
const results = new Map<string, [number[], number[]]>()
function record(key: string, fromStart: number, trained: number): void {
  if (!results.has(key)) results.set(key, [[], []])
  const [a, b] = results.get(key)!
  a.push(100 * fromStart)
  b.push(100 * trained)
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stage-gains-'))
  const started = Date.now()
  try {
    for (const seed of SEEDS) {
      const dir = (name: string) => path.join(root, `seed${seed}`, name)
      const a = preset.amateur
      await saveRandomAmateur(dir('amateur-random'), seed)
      await trainAmateur({ ...a, seed, out: dir('amateur'), log: quiet })
      const [randomA, trainedA] = [
        await evaluateAmateur(dir('amateur-random'), { size: 500 }),
        await evaluateAmateur(dir('amateur'), { size: 500 }),
      ]
      record('Up-A|image-to-text top-1 %', randomA.imageToTextTop1, trainedA.imageToTextTop1)
      record('Up-A|text-to-image top-1 %', randomA.textToImageTop1, trainedA.textToImageTop1)
      for (const type of ['C', 'D', 'S'] as ExpertType[]) {
        const e = preset.experts[type]
        const common = {
          type,
          backbone: e.backbone,
          imageSize: e.imageSize,
          sources: e.sources,
          steps: e.steps,
          batchSize: e.batchSize,
          lr: e.lr,
          seed,
          log: quiet,
        }
        await trainExpert({ ...common, init: { amateur: dir('amateur') }, out: dir(`expert-${type}`) })
        await trainExpert({
          ...common,
          init: 'scratch',
          name: `expert-${type}-scratch`,
          out: dir(`expert-${type}-scratch`),
        })
        record(
          `Up-E ${type}|${EXPERT_METRIC[type]}, mean of sources`,
          sourceMean(await evaluateExpert(dir(`expert-${type}-scratch`))),
          sourceMean(await evaluateExpert(dir(`expert-${type}`))),
        )
      }
      console.error(`seed ${seed} done after ${((Date.now() - started) / 1000).toFixed(0)} s`)
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }

  const fmt = (xs: number[]) => `${mean(xs).toFixed(1)} +- ${std(xs).toFixed(1)}`
  const rows = [...results].map(([key, [fromStart, trained]]) => {
    const [stage, metric] = key.split('|')
    const difference = mean(trained) - mean(fromStart)
    const standardError = Math.sqrt((std(fromStart) ** 2 + std(trained) ** 2) / SEEDS.length)
    const improves = Math.abs(difference) <= standardError ? 'within noise' : difference > 0 ? 'yes' : 'no'
    return [stage, metric, fmt(fromStart), fmt(trained), (difference >= 0 ? '+' : '') + difference.toFixed(1), improves]
  })
  printTable(
    `upstream stage gains, cpu-quick preset (mn-t, 32 px), held-out val split (500 images a source), seeds ${SEEDS.join(', ')}: mean +- sample std; ` +
      `from start = Up-A at random init, or the expert trained the same steps from random init; improves? = difference beyond sqrt(s1^2/n + s2^2/n)`,
    ['stage', 'metric', 'from start', 'trained', 'difference', 'improves?'],
    rows,
  )
  console.log(`(${((Date.now() - started) / 60000).toFixed(1)} min in all)`)
}

void main()
