// The model zoo: every convolutional backbone by name, so the CLI, the stage trainers, the
// benchmark and the architecture search build models the same way. A name is a zoo entry
// ('mn-t', 'resnet18') or a path to a MetaNet configuration saved as JSON (what
// `intern-vision search` writes as its best config). ViT is built with its own constructor: its
// features are tokens, not the multi-scale maps that detection and segmentation heads need.
import * as fs from 'node:fs'
import type { Module } from '../nn'
import type { Tensor } from '../tensor/tensor'
import { MetaNet } from './metanet'
import { METANET_CONFIGS, validateConfig, type MetaNetConfig } from './metanet/config'
import { ResNet } from './resnet'

/** What every image backbone of the zoo offers the heads and stages built on it. */
export interface Backbone extends Module {
  /** Channels of each forwardFeatures output (multi-scale, strides increasing). */
  readonly featureChannels: number[]
  /** Stride of each forwardFeatures output against the input. */
  readonly featureStrides: number[]
  /** Width of forwardPooled's output. */
  readonly pooledDim: number
  forwardFeatures(x: Tensor): Tensor[]
  forwardPooled(x: Tensor): Tensor
  /** Logits, or forwardPooled's feature when the model has no classifier. */
  forward(x: Tensor): Tensor
}

export interface CreateModelOptions {
  /** Classifier outputs; 0 leaves the classifier out (forward gives the pooled feature). */
  numClasses?: number
  inChannels?: number
  /**
   * Input side in pixels: ResNet uses the small-image stem (3x3 stride 1, no max-pool) below 96 px, as CIFAR ResNets
   * do.
   */
  imageSize?: number
}

interface ZooEntry {
  family: 'metanet' | 'resnet'
  description: string
  create(options: Required<CreateModelOptions>): Backbone
}

const entries = new Map<string, ZooEntry>()

for (const name of Object.keys(METANET_CONFIGS)) {
  const c = METANET_CONFIGS[name]
  entries.set(name, {
    family: 'metanet',
    description: `MetaNet ${name}: ${c.stages.map((s) => `${s.block}x${s.repeats}`).join(' ')}`,
    create: (o) => new MetaNet(name, { numClasses: o.numClasses, inChannels: o.inChannels }) as unknown as Backbone,
  })
}
for (const depth of ['resnet18', 'resnet34', 'resnet50', 'resnet101']) {
  entries.set(depth, {
    family: 'resnet',
    description: `${depth} (torchvision names; small-image stem below 96 px)`,
    create: (o) =>
      new ResNet(depth, {
        numClasses: o.numClasses,
        inChannels: o.inChannels,
        cifar: o.imageSize < 96,
      }) as unknown as Backbone,
  })
}

/** The zoo's names with their family and a one-line description. */
export function listModels(): { name: string; family: string; description: string }[] {
  return [...entries].map(([name, e]) => ({ name, family: e.family, description: e.description }))
}

function isConfigFile(name: string): boolean {
  return name.endsWith('.json') || name.includes('/')
}

/** Reads a MetaNet configuration from JSON: either the config itself or `{ config: {...} }`. */
export function loadMetaNetConfig(file: string): MetaNetConfig {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    throw new Error(`createModel: cannot read model file '${file}': ${(e as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    throw new Error(`createModel: '${file}' is not valid JSON: ${(e as Error).message}`)
  }
  const obj = parsed as { config?: unknown; stages?: unknown }
  const config = (obj && typeof obj === 'object' && 'config' in obj ? obj.config : obj) as MetaNetConfig
  if (!config || typeof config !== 'object' || !Array.isArray((config as MetaNetConfig).stages)) {
    throw new Error(`createModel: '${file}' holds no MetaNet configuration (expected an object with 'stages')`)
  }
  try {
    return validateConfig(config)
  } catch (e) {
    throw new Error(`createModel: '${file}': ${(e as Error).message}`)
  }
}

/**
 * Builds a backbone by zoo name or from a MetaNet configuration file.
 * Defaults: numClasses 0 (no classifier), inChannels 3, imageSize 224.
 */
export function createModel(name: string, options: CreateModelOptions = {}): Backbone {
  const o: Required<CreateModelOptions> = { numClasses: 0, inChannels: 3, imageSize: 224, ...options }
  for (const [k, v] of Object.entries(o)) {
    if (!Number.isInteger(v) || v < (k === 'numClasses' ? 0 : 1)) {
      throw new RangeError(
        `createModel: ${k} must be a ${k === 'numClasses' ? 'non-negative' : 'positive'} integer, got ${v}`,
      )
    }
  }
  const entry = entries.get(name)
  if (entry) return entry.create(o)
  if (isConfigFile(name)) {
    const config = loadMetaNetConfig(name)
    return new MetaNet(config, { numClasses: o.numClasses, inChannels: o.inChannels }) as unknown as Backbone
  }
  throw new RangeError(
    `createModel: unknown model '${name}'; known: ${[...entries.keys()].join(', ')} (or a MetaNet config .json)`,
  )
}
