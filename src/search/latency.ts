// Measured latency of a MetaNet: the forward time (eval mode, no grad) of each of its layers on
// this machine, summed. Each distinct layer shape (block type, widths, stride, expansion, head
// dim, input side, batch) is timed once per kernel set and kept in a JSON cache on disk, so a
// search never re-times a layer it has met before, in this run or an earlier one. Timings on a
// shared machine are noisy: each is the median of several repeats after a warm-up.
import * as fs from 'node:fs'
import { noGrad } from '../autograd/grad-mode'
import * as cuda from '../cuda'
import { atomicWrite } from '../io/atomic'
import { MetaNet, planBlocks } from '../models/metanet/metanet'
import { validateConfig, type MetaNetConfig } from '../models/metanet/config'
import { cpuInfo } from '../runtime'
import { randn } from '../tensor/creation'
import type { Device } from '../tensor/dtype'
import { scope } from '../tensor/memory'
import { defaultGenerator } from '../tensor/random'
import type { Tensor } from '../tensor/tensor'
import { strided } from './cost'

export interface LatencyOptions {
  /** JSON file the timings are cached in (created when missing); none keeps them in memory. */
  cacheFile?: string
  /** Images per timed forward. Default 1. */
  batch?: number
  /** Timed forwards per layer (after one warm-up); the median is kept. Default 5. */
  repeats?: number
  device?: Device
}

interface CacheFile {
  version: 1
  /** kernel set -> layer key -> milliseconds. */
  entries: Record<string, Record<string, number>>
}

export interface CandidateLatency {
  /** Sum of the layers' median forward times, in milliseconds. */
  ms: number
  /** Layers timed now (the others came from the cache). */
  timed: number
  layers: number
}

export function median(values: number[]): number {
  if (values.length === 0) throw new Error('median: no values')
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** What a kernel set is called in the cache: the CPU's instruction set and threads, or the GPU's name. */
export function kernelSet(device: Device = 'cpu'): string {
  if (device === 'cuda') return `cuda:${cuda.deviceName()}`
  const info = cpuInfo()
  return `cpu:${info.isa}:${info.threads}t`
}

/** A layer of a candidate: the stem, one block, or the head with the classifier. */
interface LayerShape {
  key: string
  /** Shape of its input. */
  input: number[]
}

/** The candidate's layers in order, keyed by everything that sets their cost. */
function layerShapes(c: MetaNetConfig, batch: number, imageSize: number): LayerShape[] {
  let side = strided(imageSize, 2)
  const layers: LayerShape[] = [
    { key: `stem:${c.inChannels}>${c.stemWidth}@${imageSize}`, input: [batch, c.inChannels, imageSize, imageSize] },
  ]
  for (const { type, spec: s } of planBlocks(c)) {
    layers.push({
      key: `${type}:${s.inChannels}>${s.outChannels}/s${s.stride}/e${s.expansion}/d${s.headDim}@${side}`,
      input: [batch, s.inChannels, side, side],
    })
    side = strided(side, s.stride)
  }
  const last = c.stages[c.stages.length - 1].channels
  layers.push({ key: `head:${last}>${c.headWidth}>${c.numClasses}@${side}`, input: [batch, last, side, side] })
  return layers.map((l) => ({ ...l, key: `b${batch}:${l.key}` }))
}

/** Runs layer i of layerShapes on the model's own modules. */
function runLayer(model: MetaNet, i: number, x: Tensor): Tensor {
  const blocks = model.blocks.children()
  if (i === 0) return model.stem.forward(x)
  if (i <= blocks.length) return blocks[i - 1].forward(x) as Tensor
  return model.classifier.forward(model.forwardHead(x)) as Tensor
}

export class LatencyTable {
  readonly batch: number
  readonly repeats: number
  readonly device: Device
  readonly cacheFile?: string
  /** Layers timed by this table so far. */
  timed = 0
  private entries: Record<string, number>

  constructor(options: LatencyOptions = {}) {
    const fn = 'LatencyTable'
    this.batch = options.batch ?? 1
    this.repeats = options.repeats ?? 5
    this.device = options.device ?? 'cpu'
    this.cacheFile = options.cacheFile
    for (const k of ['batch', 'repeats'] as const)
      if (!Number.isInteger(this[k]) || this[k] < 1)
        throw new RangeError(`${fn}: ${k} must be a positive integer, got ${this[k]}`)
    if (this.device !== 'cpu' && this.device !== 'cuda')
      throw new RangeError(`${fn}: device must be 'cpu' or 'cuda', got '${this.device}'`)
    if (this.device === 'cuda' && !cuda.isAvailable())
      throw new Error(`${fn}: device 'cuda' asked for, but CUDA is unavailable: ${cuda.unavailableReason()}`)
    this.entries = { ...(this.readCache().entries[kernelSet(this.device)] ?? {}) }
  }

  private readCache(): CacheFile {
    if (!this.cacheFile || !fs.existsSync(this.cacheFile)) return { version: 1, entries: {} }
    let parsed: CacheFile
    try {
      parsed = JSON.parse(fs.readFileSync(this.cacheFile, 'utf8')) as CacheFile
    } catch (e) {
      throw new Error(
        `LatencyTable: the cache '${this.cacheFile}' is not valid JSON (${(e as Error).message}); delete it to re-time`,
      )
    }
    if (parsed?.version !== 1 || typeof parsed.entries !== 'object')
      throw new Error(`LatencyTable: '${this.cacheFile}' is not a latency cache (version 1); delete it to re-time`)
    return parsed
  }

  /** Merges this table's timings into the cache file (other processes may have added theirs). */
  private save(): void {
    if (!this.cacheFile) return
    const file = this.readCache()
    const set = kernelSet(this.device)
    file.entries[set] = { ...(file.entries[set] ?? {}), ...this.entries }
    atomicWrite(this.cacheFile, (write) => write(Buffer.from(JSON.stringify(file, null, 1))))
  }

  /** The cached time of a layer key, if any. */
  lookup(key: string): number | undefined {
    return this.entries[key]
  }

  /** Median forward time of layer i of the model, in milliseconds. */
  private time(model: MetaNet, i: number, input: number[]): number {
    const once = (x: Tensor): number => {
      if (this.device === 'cuda') return cuda.time(() => void runLayer(model, i, x))
      const t0 = performance.now()
      runLayer(model, i, x)
      return performance.now() - t0
    }
    const samples = scope(() =>
      noGrad(() => {
        const x = randn(input, { device: this.device })
        once(x)
        return Array.from({ length: this.repeats }, () => scope(() => once(x)))
      }),
    )
    this.timed++
    return median(samples)
  }

  /** The latency of a candidate at imageSize: its layers' cached times, timing those not met before. */
  measure(config: MetaNetConfig, imageSize: number): CandidateLatency {
    if (!Number.isInteger(imageSize) || imageSize < 1)
      throw new RangeError(`LatencyTable.measure: imageSize must be a positive integer, got ${imageSize}`)
    const c = validateConfig(config)
    const layers = layerShapes(c, this.batch, imageSize)
    let model: MetaNet | null = null
    let timed = 0
    let ms = 0
    // Building and feeding the timed model draws from the default generator: restore it, so that
    // what runs next does not depend on which layers happened to be cached.
    const rng = defaultGenerator.getState()
    try {
      layers.forEach(({ key, input }, i) => {
        if (this.entries[key] === undefined) {
          model ??= new MetaNet(c).eval().to(this.device)
          this.entries[key] = this.time(model, i, input)
          timed++
        }
        ms += this.entries[key]
      })
    } finally {
      defaultGenerator.setState(rng)
    }
    if (timed > 0) this.save()
    return { ms, timed, layers: layers.length }
  }
}
