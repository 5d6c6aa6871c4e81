// The MetaNet search space as data, and the genome that picks one network from it. A genome is
// one option index per decision; every genome of a checked space maps to a valid MetaNetConfig
// (the constraints are built into the space, so nothing is sampled and then rejected), and a
// config drawn from the space maps back to the genome. The constraints follow the published
// layout (shared/reference/intern-facts.md): six stages with fixed strides, convolution stages
// before attention stages (C-C-T-T), attention starting no earlier than the space allows.
import * as fs from 'node:fs'
import { validateConfig, type BlockType, type MetaNetConfig, type StageConfig } from '../models/metanet/config'

export type ConvBlock = Extract<BlockType, 'mbconv' | 'fusedMbconv'>
export type AttentionBlock = Extract<BlockType, 'sa' | 'xca'>

const CONV_BLOCKS: readonly BlockType[] = ['mbconv', 'fusedMbconv']
const ATTENTION_BLOCKS: readonly BlockType[] = ['sa', 'xca']

export interface StageChoices {
  /** Block types of the stage while it comes before the first attention stage. */
  convBlocks: ConvBlock[]
  /** Block types of the stage once attention has started (empty where it never may). */
  attentionBlocks: AttentionBlock[]
  repeats: number[]
  channels: number[]
  /** MBConv expansion, or the MLP ratio of attention blocks. */
  expansions: number[]
}

export interface SearchSpace {
  name: string
  /** Stride of each stage's first block (the published layout: [1, 2, 2, 2, 1, 2]). */
  strides: number[]
  stemWidths: number[]
  /** Index of the first attention stage; stages.length means an all-convolution network. */
  attentionStarts: number[]
  /** Channels per attention head, shared by every attention stage. */
  headDims: number[]
  headWidths: number[]
  stages: StageChoices[]
  /** What every candidate shares. */
  fixed: Pick<MetaNetConfig, 'inChannels' | 'numClasses' | 'dropPathRate' | 'outStages' | 'layerScaleInit'>
}

/** One choice a genome makes: its name ('stage2.channels') and its options. */
export interface Decision {
  name: string
  options: (number | string)[]
}

export type Genome = number[]

const STRIDES = [1, 2, 2, 2, 1, 2]

/**
 * Named spaces. 'tiny' holds mn-t and networks of its size for 32-64 px CPU work; 'metanet'
 * holds MN-B4 and its neighbours at 224 px (attention from stage 4 on, as in MN-B4 and MN-B15).
 */
export const SEARCH_SPACES: Record<string, SearchSpace> = {
  tiny: {
    name: 'tiny',
    strides: STRIDES,
    stemWidths: [8, 16, 24],
    attentionStarts: [3, 4, 5, 6],
    headDims: [8, 16],
    headWidths: [256, 512, 768],
    stages: [
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: [],
        repeats: [1, 2],
        channels: [8, 16, 24],
        expansions: [1, 2, 4],
      },
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: [],
        repeats: [1, 2, 3],
        channels: [16, 24, 32],
        expansions: [2, 4, 6],
      },
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: [],
        repeats: [1, 2, 3],
        channels: [32, 48, 64],
        expansions: [2, 4, 6],
      },
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: ['sa', 'xca'],
        repeats: [1, 2, 3],
        channels: [48, 64, 96],
        expansions: [2, 3, 4],
      },
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: ['sa', 'xca'],
        repeats: [1, 2, 3],
        channels: [64, 96, 128],
        expansions: [2, 3, 4],
      },
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: ['sa', 'xca'],
        repeats: [1, 2, 3, 4],
        channels: [96, 128, 160],
        expansions: [2, 3, 4],
      },
    ],
    fixed: { inChannels: 3, numClasses: 10, dropPathRate: 0, outStages: [1, 2, 4, 5], layerScaleInit: 1e-6 },
  },
  metanet: {
    name: 'metanet',
    strides: STRIDES,
    stemWidths: [24, 32, 48],
    attentionStarts: [4, 5, 6],
    headDims: [24, 48],
    headWidths: [1024, 1280],
    stages: [
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: [],
        repeats: [1, 2, 3],
        channels: [24, 32, 48],
        expansions: [1, 2, 4],
      },
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: [],
        repeats: [2, 3, 4],
        channels: [48, 64, 96],
        expansions: [3, 4, 6],
      },
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: [],
        repeats: [4, 6, 8],
        channels: [96, 128, 192],
        expansions: [4, 6],
      },
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: [],
        repeats: [4, 6, 8],
        channels: [144, 192, 240],
        expansions: [2, 3, 4],
      },
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: ['sa', 'xca'],
        repeats: [4, 6, 8],
        channels: [192, 240, 288],
        expansions: [2, 3, 4],
      },
      {
        convBlocks: ['mbconv', 'fusedMbconv'],
        attentionBlocks: ['sa', 'xca'],
        repeats: [8, 12, 16],
        channels: [288, 384, 480],
        expansions: [3, 4, 5],
      },
    ],
    fixed: { inChannels: 3, numClasses: 1000, dropPathRate: 0, outStages: [1, 2, 4, 5], layerScaleInit: 1e-6 },
  },
}

const mayBeConv = (space: SearchSpace, stage: number): boolean => space.attentionStarts.some((s) => s > stage)
const mayBeAttention = (space: SearchSpace, stage: number): boolean => space.attentionStarts.some((s) => s <= stage)

/**
 * Checks that a space is well formed and that every genome of it gives a valid network (attention
 * input widths divisible by every head dim); names the first problem. Returns the space.
 */
export function checkSearchSpace(space: SearchSpace): SearchSpace {
  const bad = (what: string): never => {
    throw new Error(`search space '${space?.name}': ${what}`)
  }
  const positiveInts = (field: string, v: unknown): void => {
    if (!Array.isArray(v) || v.length === 0 || v.some((x) => !Number.isInteger(x) || x < 1))
      bad(`${field} must be a non-empty list of positive integers, got ${JSON.stringify(v)}`)
    if (new Set(v as number[]).size !== (v as number[]).length)
      bad(`${field} has repeated options: ${JSON.stringify(v)}`)
  }
  if (!space || typeof space !== 'object' || !Array.isArray(space.stages) || space.stages.length === 0)
    bad('stages must be a non-empty list')
  const n = space.stages.length
  if (
    !Array.isArray(space.strides) ||
    space.strides.length !== n ||
    space.strides.some((s) => !Number.isInteger(s) || s < 1)
  )
    bad(`strides must hold one positive integer per stage (${n}), got ${JSON.stringify(space.strides)}`)
  positiveInts('stemWidths', space.stemWidths)
  positiveInts('headDims', space.headDims)
  positiveInts('headWidths', space.headWidths)
  if (
    !Array.isArray(space.attentionStarts) ||
    space.attentionStarts.length === 0 ||
    space.attentionStarts.some((s) => !Number.isInteger(s) || s < 0 || s > n)
  )
    bad(
      `attentionStarts must be a non-empty list of stage indices in [0, ${n}], got ${JSON.stringify(space.attentionStarts)}`,
    )
  if (new Set(space.attentionStarts).size !== space.attentionStarts.length)
    bad(`attentionStarts has repeated options: ${JSON.stringify(space.attentionStarts)}`)
  space.stages.forEach((s, i) => {
    const at = `stage ${i}`
    positiveInts(`${at} repeats`, s.repeats)
    positiveInts(`${at} channels`, s.channels)
    if (
      !Array.isArray(s.expansions) ||
      s.expansions.length === 0 ||
      s.expansions.some((e) => !(typeof e === 'number' && e > 0))
    )
      bad(`${at} expansions must be a non-empty list of positive numbers, got ${JSON.stringify(s.expansions)}`)
    const blocks = (field: 'convBlocks' | 'attentionBlocks', allowed: readonly BlockType[], needed: boolean): void => {
      const v = s[field] as BlockType[]
      if (!Array.isArray(v) || v.some((b) => !allowed.includes(b)))
        bad(`${at} ${field} must list blocks among ${allowed.join(', ')}, got ${JSON.stringify(v)}`)
      if (needed && v.length === 0)
        bad(
          `${at} ${field} is empty but the stage may be ${field === 'convBlocks' ? 'a convolution' : 'an attention'} stage`,
        )
    }
    blocks('convBlocks', CONV_BLOCKS, mayBeConv(space, i))
    blocks('attentionBlocks', ATTENTION_BLOCKS, mayBeAttention(space, i))
    // A stage's first block sees the previous stage's width (the stem's for stage 0), the others its own.
    const inputs = i === 0 ? space.stemWidths : space.stages[i - 1].channels
    const narrowest = Math.min(...inputs, ...s.channels)
    if (Math.floor(narrowest * Math.min(...s.expansions)) < 1)
      bad(`${at} expansion ${Math.min(...s.expansions)} leaves no hidden channel at width ${narrowest}`)
    if (!mayBeAttention(space, i)) return
    for (const width of new Set([...inputs, ...s.channels]))
      for (const d of space.headDims)
        if (width % d)
          bad(`${at} may be an attention stage, but head dim ${d} does not divide its width option ${width}`)
  })
  if (!space.fixed || typeof space.fixed !== 'object')
    bad('fixed must give inChannels, numClasses, dropPathRate, outStages and layerScaleInit')
  // The fixed fields are checked the way every candidate is: by building one.
  try {
    genomeToConfig(
      space,
      decisions(space).map(() => 0),
    )
  } catch (e) {
    bad((e as Error).message)
  }
  return space
}

/** A named space or a space saved as JSON, checked. */
export function loadSearchSpace(nameOrFile: string): SearchSpace {
  const named = SEARCH_SPACES[nameOrFile]
  if (named) return checkSearchSpace(named)
  if (!nameOrFile.endsWith('.json'))
    throw new Error(
      `loadSearchSpace: unknown space '${nameOrFile}'; known: ${Object.keys(SEARCH_SPACES).join(', ')} (or a space .json file)`,
    )
  let parsed: SearchSpace
  try {
    parsed = JSON.parse(fs.readFileSync(nameOrFile, 'utf8')) as SearchSpace
  } catch (e) {
    throw new Error(`loadSearchSpace: cannot read '${nameOrFile}': ${(e as Error).message}`)
  }
  return checkSearchSpace(parsed)
}

/** The decisions of a space, in genome order. */
export function decisions(space: SearchSpace): Decision[] {
  const out: Decision[] = [
    { name: 'stemWidth', options: space.stemWidths },
    { name: 'attentionStart', options: space.attentionStarts },
    { name: 'headDim', options: space.headDims },
    { name: 'headWidth', options: space.headWidths },
  ]
  space.stages.forEach((s, i) => {
    if (mayBeConv(space, i)) out.push({ name: `stage${i}.convBlock`, options: s.convBlocks })
    if (mayBeAttention(space, i)) out.push({ name: `stage${i}.attentionBlock`, options: s.attentionBlocks })
    out.push(
      { name: `stage${i}.repeats`, options: s.repeats },
      { name: `stage${i}.channels`, options: s.channels },
      { name: `stage${i}.expansion`, options: s.expansions },
    )
  })
  return out
}

/** The number of options of each decision. */
export const cardinalities = (space: SearchSpace): number[] => decisions(space).map((d) => d.options.length)

function checkGenome(space: SearchSpace, genome: Genome, fn: string): Decision[] {
  const ds = decisions(space)
  if (!Array.isArray(genome) || genome.length !== ds.length)
    throw new Error(
      `${fn}: a genome of space '${space.name}' has ${ds.length} genes, got ${Array.isArray(genome) ? genome.length : typeof genome}`,
    )
  genome.forEach((g, i) => {
    if (!Number.isInteger(g) || g < 0 || g >= ds[i].options.length)
      throw new Error(`${fn}: gene ${i} (${ds[i].name}) must be an integer in [0, ${ds[i].options.length}), got ${g}`)
  })
  return ds
}

/**
 * The decisions that shape the network: a stage's block type counts only on its side of the
 * attention start, and the head dim only when there is attention.
 */
export function activeDecisions(space: SearchSpace, genome: Genome): number[] {
  const ds = checkGenome(space, genome, 'activeDecisions')
  const start = space.attentionStarts[genome[1]]
  return ds.flatMap((d, i) => {
    if (d.name === 'headDim') return start < space.stages.length ? [i] : []
    const m = /^stage(\d+)\.(convBlock|attentionBlock)$/.exec(d.name)
    if (!m) return [i]
    const attention = Number(m[1]) >= start
    return attention === (m[2] === 'attentionBlock') ? [i] : []
  })
}

/** The genome with every inactive gene at 0: equal networks give equal canonical genomes. */
export function canonicalGenome(space: SearchSpace, genome: Genome): Genome {
  const active = new Set(activeDecisions(space, genome))
  return genome.map((g, i) => (active.has(i) ? g : 0))
}

export const genomeKey = (space: SearchSpace, genome: Genome): string => canonicalGenome(space, genome).join('.')

/**
 * The network a genome picks (a function of the canonical genome: inactive genes change nothing);
 * `overrides` (name, numClasses, ...) are applied before validation.
 */
export function genomeToConfig(
  space: SearchSpace,
  genome: Genome,
  overrides: Partial<MetaNetConfig> = {},
): MetaNetConfig {
  const ds = checkGenome(space, genome, 'genomeToConfig')
  const canonical = canonicalGenome(space, genome)
  const pick = (name: string): number | string => {
    const i = ds.findIndex((d) => d.name === name)
    return ds[i].options[canonical[i]]
  }
  const start = pick('attentionStart') as number
  const headDim = pick('headDim') as number
  const stages: StageConfig[] = space.stages.map((_, i) => ({
    block: pick(i >= start ? `stage${i}.attentionBlock` : `stage${i}.convBlock`) as BlockType,
    repeats: pick(`stage${i}.repeats`) as number,
    expansion: pick(`stage${i}.expansion`) as number,
    channels: pick(`stage${i}.channels`) as number,
    stride: space.strides[i],
    headDim,
  }))
  return validateConfig({
    name: `${space.name}-${genomeKey(space, genome)}`,
    stemWidth: pick('stemWidth') as number,
    stages,
    headWidth: pick('headWidth') as number,
    ...space.fixed,
    outStages: [...space.fixed.outStages],
    ...overrides,
  })
}

/**
 * The canonical genome of a config drawn from the space; throws naming the first field the space
 * has no option for. headDim is read from the attention stages (any option fits a pure-convolution net).
 */
export function configToGenome(space: SearchSpace, config: MetaNetConfig): Genome {
  const fn = 'configToGenome'
  const c = validateConfig(config)
  if (c.stages.length !== space.stages.length)
    throw new Error(
      `${fn}: '${c.name}' has ${c.stages.length} stages, space '${space.name}' has ${space.stages.length}`,
    )
  const firstAttention = c.stages.findIndex((s) => !CONV_BLOCKS.includes(s.block))
  const start = firstAttention < 0 ? c.stages.length : firstAttention
  const attention = c.stages.filter((s) => ATTENTION_BLOCKS.includes(s.block))
  const values: Record<string, number | string> = {
    stemWidth: c.stemWidth,
    attentionStart: start,
    headDim: attention.length ? attention[0].headDim : space.headDims[0],
    headWidth: c.headWidth,
  }
  c.stages.forEach((s, i) => {
    if (s.stride !== space.strides[i])
      throw new Error(
        `${fn}: '${c.name}' stage ${i} has stride ${s.stride}; space '${space.name}' fixes ${space.strides[i]}`,
      )
    if (i >= start && !ATTENTION_BLOCKS.includes(s.block))
      throw new Error(`${fn}: '${c.name}' stage ${i} is '${s.block}' after attention started at stage ${start}`)
    if (i >= start && s.headDim !== values.headDim)
      throw new Error(
        `${fn}: '${c.name}' stage ${i} has head dim ${s.headDim}; the space shares one head dim (${values.headDim})`,
      )
    values[i >= start ? `stage${i}.attentionBlock` : `stage${i}.convBlock`] = s.block
    values[`stage${i}.repeats`] = s.repeats
    values[`stage${i}.channels`] = s.channels
    values[`stage${i}.expansion`] = s.expansion
  })
  const genome = decisions(space).map((d) => {
    if (!(d.name in values)) return 0
    const g = d.options.indexOf(values[d.name])
    if (g < 0)
      throw new Error(
        `${fn}: '${c.name}' has ${d.name} = ${values[d.name]}, not an option of space '${space.name}' (${d.options.join(', ')})`,
      )
    return g
  })
  return canonicalGenome(space, genome)
}
