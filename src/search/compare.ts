// The measured comparison of architectures: each network trained from scratch on the proxy task
// (the search's recipe, for more steps) with several seeds, scored on the proxy's held-out val
// split, then frozen and linear-probed on GV-B classification tasks (data no proxy or upstream
// source contains). Mean and sample standard deviation over the seeds.
import * as path from 'node:path'
import { FeatureCache, linearProbe, type LinearProbeOptions } from '../benchmark/protocols'
import { getTask, type BenchmarkTask } from '../benchmark/tasks'
import type { Dataset, Sample } from '../data/types'
import { metaNetConfig, METANET_CONFIGS, type MetaNetConfig } from '../models/metanet/config'
import { loadMetaNetConfig, type Backbone } from '../models/zoo'
import { analyticCost } from './cost'
import { ProxyTask, type ProxyOptions } from './proxy'

export interface CompareOptions {
  /** Zoo MetaNet names or MetaNet config .json files (what `search` writes as best.json). */
  models: string[]
  seeds: number[]
  /** The proxy training; `steps` is the training length of every run. */
  proxy?: ProxyOptions
  /**
   * GV-B classification tasks (src/benchmark/tasks.ts), each probed on the same trained backbone. Default ['world-
   * sketch-shape'].
   */
  tasks?: string[]
  /** Percent of each task's training split the probe sees. Default 10. */
  percent?: number
  probe?: LinearProbeOptions
  log?: (line: string) => void
}

export interface CompareRow {
  model: string
  seed: number
  proxyAccuracy: number
  /** Task name -> the task's metric. */
  tasks: Record<string, number>
  seconds: number
}

export interface Summary {
  mean: number
  std: number
}

export interface CompareModel {
  model: string
  params: number
  flops: number
  proxy: Summary
  tasks: Record<string, Summary>
}

export interface Comparison {
  /** Task name -> its metric. */
  tasks: Record<string, string>
  percent: number
  imageSize: number
  steps: number
  rows: CompareRow[]
  models: CompareModel[]
}

/** Mean and sample standard deviation (0 for one value). */
export function summarize(values: number[]): Summary {
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  const std = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : 0
  return { mean, std }
}

/** A dataset that keeps every sample it has read: each model of the comparison reads the same images. */
function remembered(ds: Dataset<Sample>): Dataset<Sample> {
  const samples = new Map<number, Sample | Promise<Sample>>()
  return {
    length: ds.length,
    info: ds.info,
    get(i: number) {
      if (!samples.has(i)) samples.set(i, ds.get(i))
      return samples.get(i) as Sample | Promise<Sample>
    },
  }
}

function configOf(model: string): MetaNetConfig {
  if (METANET_CONFIGS[model]) return metaNetConfig(model)
  if (model.endsWith('.json')) return loadMetaNetConfig(model)
  throw new Error(
    `compareArchitectures: '${model}' is neither a zoo MetaNet (${Object.keys(METANET_CONFIGS).join(', ')}) nor a MetaNet config .json`,
  )
}

export async function compareArchitectures(o: CompareOptions): Promise<Comparison> {
  const fn = 'compareArchitectures'
  const log = o.log ?? ((line: string) => console.log(line))
  if (!Array.isArray(o.models) || o.models.length === 0) throw new Error(`${fn}: models must be a non-empty list`)
  if (!Array.isArray(o.seeds) || o.seeds.length === 0 || o.seeds.some((s) => !Number.isSafeInteger(s) || s < 0))
    throw new RangeError(
      `${fn}: seeds must be a non-empty list of non-negative integers, got ${JSON.stringify(o.seeds)}`,
    )
  const percent = o.percent ?? 10
  const proxy = new ProxyTask(o.proxy)
  const { imageSize, steps } = proxy.settings
  const tasks = (o.tasks ?? ['world-sketch-shape']).map((name) => {
    const original = getTask(name)
    if (original.type !== 'classification')
      throw new Error(`${fn}: task '${name}' is a ${original.type} task; the comparison probes classification tasks`)
    if (original.imageSize !== imageSize)
      log(`${fn}: note: the proxy trains at ${imageSize} px, task '${name}' is at ${original.imageSize} px`)
    const [train, test] = [remembered(original.train()), remembered(original.test())]
    return { ...original, train: () => train, test: () => test } as BenchmarkTask
  })
  const configs = o.models.map((m) => ({
    id: METANET_CONFIGS[m] ? m : path.basename(m, '.json'),
    config: { ...configOf(m), numClasses: proxy.numClasses },
  }))
  await proxy.load()
  const rows: CompareRow[] = []
  for (const seed of o.seeds) {
    for (const { id, config } of configs) {
      const started = performance.now()
      const { model } = await proxy.train(config, { seed })
      const proxyAccuracy = await proxy.evaluate(model)
      const values: Record<string, number> = {}
      for (const task of tasks)
        values[task.name] = (
          await linearProbe(
            model as unknown as Backbone,
            task,
            { method: id, percent, seed, cache: new FeatureCache() },
            o.probe,
          )
        ).value
      rows.push({ model: id, seed, proxyAccuracy, tasks: values, seconds: (performance.now() - started) / 1000 })
      const scores = tasks.map((task) => `${task.name} ${task.metric} ${values[task.name].toFixed(4)}`).join(', ')
      log(
        `${fn}: ${id} seed ${seed}: proxy ${proxyAccuracy.toFixed(4)}, ${scores} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
      )
    }
  }
  const models = configs.map(({ id, config }) => {
    const mine = rows.filter((r) => r.model === id)
    const cost = analyticCost(config, imageSize)
    const byTask = Object.fromEntries(tasks.map((task) => [task.name, summarize(mine.map((r) => r.tasks[task.name]))]))
    return {
      model: id,
      params: cost.params,
      flops: cost.macs,
      proxy: summarize(mine.map((r) => r.proxyAccuracy)),
      tasks: byTask,
    }
  })
  return {
    tasks: Object.fromEntries(tasks.map((task) => [task.name, task.metric])),
    percent,
    imageSize,
    steps,
    rows,
    models,
  }
}

/** The comparison as a markdown table (accuracies in percent, mean +- std over seeds). */
export function comparisonTable(c: Comparison): string {
  const pct = (s: Summary): string => `${(100 * s.mean).toFixed(1)} +- ${(100 * s.std).toFixed(1)}`
  const tasks = Object.entries(c.tasks)
  const lines = [
    `| model | params | MFLOPs at ${c.imageSize} px | proxy val top-1 (%) | ${tasks.map(([name, metric]) => `${name} ${c.percent}% linear ${metric} (%)`).join(' | ')} |`,
    `|---|---|---|---|${tasks.map(() => '---|').join('')}`,
    ...c.models.map(
      (m) =>
        `| ${m.model} | ${(m.params / 1e6).toFixed(3)}M | ${(m.flops / 1e6).toFixed(2)} | ${pct(m.proxy)} | ${tasks.map(([name]) => pct(m.tasks[name])).join(' | ')} |`,
    ),
  ]
  return lines.join('\n')
}
