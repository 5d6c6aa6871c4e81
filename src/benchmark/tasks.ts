// The GV-B tasks at this machine's scale: downstream data no upstream source saw (held-out world
// domains and label spaces, real data upstream never reads), each with its metric, its
// direction and the percentage-shot lists of the protocol. The data itself comes from
// src/data/gvd/downstream.ts; this file says what is measured and on which subsets.

import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { benchmarkData, benchmarkDataset, type BenchmarkData } from '../data/gvd/downstream'
import { parseShotList, percentageShot, type ShotList } from '../data/sampling'
import type { Dataset, Sample } from '../data/types'
import { subset } from '../data/dataset'

export type TaskType = 'classification' | 'detection' | 'segmentation' | 'depth'
export type MetricName = 'top1' | 'meanPerClassAccuracy' | 'map50' | 'mr2' | 'miou' | 'rmse' | 'delta1'

export interface TaskCard {
  name: string
  description: string
  /** Where the images and labels come from, and how the splits were cut. */
  data: string
  sizes: { train: number; test: number }
  metric: MetricName
  direction: 'higher' | 'lower'
  extraMetrics: MetricName[]
  imageSize: number
  numClasses: number
  classNames: string[]
}

export interface BenchmarkTask {
  name: string
  type: TaskType
  card: TaskCard
  metric: MetricName
  direction: 'higher' | 'lower'
  extraMetrics: MetricName[]
  /** Classes (detection: object classes without background; segmentation: with it; depth: 0). */
  numClasses: number
  /** Classification: which sample.labels[...] is the target. */
  labelSpace?: string
  /** Every image of train()/test() is 3 x imageSize x imageSize, float32 in [0, 1]. */
  imageSize: number
  /**
   * Pedestrian-style detection: what counts for the "Reasonable" subset (CityPersons: height >= 50 px of 1024,
   * visibility >= 0.65, scaled to this image size).
   */
  reasonable?: { minHeight: number; minVisibility: number }
  /** The full (100%) training split. */
  train(): Dataset<Sample>
  test(): Dataset<Sample>
  /**
   * Indices into train() for a percentage-shot subset; 10% and 100% for seeds 0, 1, 2 come from the shipped lists in
   * benchmark/shots/, other percents/seeds are drawn with src/data/sampling.ts.
   */
  shotIndices(percent: number, seed: number): Promise<Int32Array>
}

/** Where the shipped lists live (src/ and lib/ both sit one level below the package root). */
export const SHOTS_DIR = join(__dirname, '..', '..', 'benchmark', 'shots')
export const SHIPPED_PERCENTS = [10, 100]
export const SHIPPED_SEEDS = [0, 1, 2]

interface TaskSpec {
  metric: MetricName
  direction: 'higher' | 'lower'
  extraMetrics: MetricName[]
  reasonable?: { minHeight: number; minVisibility: number }
  /** What percentage-shot stratifies on: a label space (one label per image) or object/pixel classes. */
  shots: { mode: 'class'; labelSpace: string } | { mode: 'instances' }
}

const top1: Omit<TaskSpec, 'shots'> = { metric: 'top1', direction: 'higher', extraMetrics: [] }
const byClass: TaskSpec['shots'] = { mode: 'class', labelSpace: 'class' }
const byInstances: TaskSpec['shots'] = { mode: 'instances' }
const PEDESTRIAN_SIZE = benchmarkData('world-pedestrian').imageSize

const SPECS: Record<string, TaskSpec> = {
  'fashion-mnist': { ...top1, shots: byClass },
  digits: { ...top1, shots: byClass },
  'world-sketch-shape': { ...top1, shots: { mode: 'class', labelSpace: 'shape' } },
  'world-texture-lt': {
    metric: 'meanPerClassAccuracy',
    direction: 'higher',
    extraMetrics: ['top1'],
    shots: { mode: 'class', labelSpace: 'shapeTexture' },
  },
  'world-detection': { metric: 'map50', direction: 'higher', extraMetrics: [], shots: byInstances },
  'world-pedestrian': {
    metric: 'mr2',
    direction: 'lower',
    extraMetrics: [],
    reasonable: { minHeight: (50 * PEDESTRIAN_SIZE) / 1024, minVisibility: 0.65 },
    shots: byInstances,
  },
  'world-segmentation': { metric: 'miou', direction: 'higher', extraMetrics: [], shots: byInstances },
  // Depth has no classes; its lists keep the mix of the two domains.
  'world-depth': {
    metric: 'rmse',
    direction: 'lower',
    extraMetrics: ['delta1'],
    shots: { mode: 'class', labelSpace: 'domain' },
  },
}

const METRIC_WORDS: Record<MetricName, string> = {
  top1: 'top-1 accuracy',
  meanPerClassAccuracy: 'mean per-class accuracy',
  map50: 'VOC all-point AP at IoU 0.5, averaged over classes',
  mr2: 'log-average miss rate over FPPI 1e-2..1 at IoU 0.5 on the Reasonable subset',
  miou: 'mean IoU over classes',
  rmse: 'RMSE in metres over valid pixels',
  delta1: 'fraction of valid pixels with max(pred/true, true/pred) < 1.25',
}

export const DEFAULT_TASKS: string[] = Object.keys(SPECS)

export interface TaskOptions {
  /** Folder of the shipped shot lists; default SHOTS_DIR. */
  shotsDir?: string
  /**
   * Score on only the first `testSize` test images (for quick runs and tests; the card records
   * the size, and results of different sizes are not comparable). Default: the whole test split.
   */
  testSize?: number
}

export function getTask(name: string, options: TaskOptions = {}): BenchmarkTask {
  const spec = SPECS[name]
  if (!spec) throw new RangeError(`getTask: no task '${name}'; known: ${DEFAULT_TASKS.join(', ')}`)
  const data = benchmarkData(name)
  const testSize = options.testSize ?? data.card.sizes.test
  if (!Number.isInteger(testSize) || testSize < 1 || testSize > data.card.sizes.test) {
    throw new RangeError(
      `getTask: testSize of '${name}' must be an integer in [1, ${data.card.sizes.test}], got ${options.testSize}`,
    )
  }
  return makeTask(name, spec, data, options.shotsDir ?? SHOTS_DIR, testSize)
}

export function listTasks(): BenchmarkTask[] {
  return DEFAULT_TASKS.map((name) => getTask(name))
}

export function shotListPath(task: string, percent: number, seed: number, dir = SHOTS_DIR): string {
  return join(dir, `${task}-${percent}pct-seed${seed}.txt`)
}

/** Draws a percentage-shot list of a task's training split (pass `train` to reuse a built one). */
export function drawShotList(
  task: BenchmarkTask,
  percent: number,
  seed: number,
  train = task.train(),
): Promise<ShotList> {
  const spec = SPECS[task.name]
  if (!spec) throw new RangeError(`drawShotList: no task '${task.name}'; known: ${DEFAULT_TASKS.join(', ')}`)
  return percentageShot(train, { percent, seed, ...spec.shots })
}

function makeTask(
  name: string,
  spec: TaskSpec,
  data: BenchmarkData,
  shotsDir: string,
  testSize: number,
): BenchmarkTask {
  const numClasses = data.classNames.length
  const card: TaskCard = {
    name,
    description: `${data.card.description} Metric: ${METRIC_WORDS[spec.metric]} (${spec.direction} is better).`,
    data: `${data.card.provenance} License: ${data.card.license}.`,
    sizes: { train: data.card.sizes.train, test: testSize },
    metric: spec.metric,
    direction: spec.direction,
    extraMetrics: [...spec.extraMetrics],
    imageSize: data.imageSize,
    numClasses,
    classNames: [...data.classNames],
  }
  let train: Dataset<Sample> | undefined
  let test: Dataset<Sample> | undefined
  const task: BenchmarkTask = {
    name,
    type: data.task,
    card,
    metric: spec.metric,
    direction: spec.direction,
    extraMetrics: [...spec.extraMetrics],
    numClasses,
    labelSpace: data.labelSpace,
    imageSize: data.imageSize,
    reasonable: spec.reasonable && { ...spec.reasonable },
    train: () => (train ??= benchmarkDataset(name, 'train')),
    test: () => {
      if (test) return test
      const full = benchmarkDataset(name, 'test')
      return (test =
        testSize < full.length
          ? subset(
              full,
              Int32Array.from({ length: testSize }, (_, i) => i),
            )
          : full)
    },
    async shotIndices(percent: number, seed: number): Promise<Int32Array> {
      if (typeof percent !== 'number' || !(percent > 0 && percent <= 100)) {
        throw new RangeError(`shotIndices: percent must be in (0, 100], got ${percent} (task '${name}')`)
      }
      if (!Number.isSafeInteger(seed) || seed < 0) {
        throw new RangeError(`shotIndices: seed must be a non-negative integer, got ${seed} (task '${name}')`)
      }
      if (SHIPPED_PERCENTS.includes(percent) && SHIPPED_SEEDS.includes(seed)) {
        return readShipped(shotListPath(name, percent, seed, shotsDir), name, percent, seed, card.sizes.train)
      }
      return (await drawShotList(task, percent, seed)).indices
    },
  }
  return task
}

/** A shipped list, checked against what it claims to be: one clear error naming the file otherwise. */
function readShipped(file: string, task: string, percent: number, seed: number, total: number): Int32Array {
  const fail = (why: string): Error =>
    new Error(`shotIndices: shot list ${file} ${why}; regenerate it with 'npx tsx scripts/make-shot-lists.ts ${task}'`)
  if (!existsSync(file)) throw fail('is missing')
  let list: ShotList
  try {
    list = parseShotList(readFileSync(file, 'utf8'), file)
  } catch (e) {
    throw fail(`is corrupt (${(e as Error).message})`)
  }
  const expected = { dataset: task, split: 'train', percent, seed, total }
  for (const [key, value] of Object.entries(expected)) {
    const got = list[key as keyof typeof expected]
    if (got !== value) throw fail(`says ${key}=${got}, expected ${value}`)
  }
  return list.indices
}
