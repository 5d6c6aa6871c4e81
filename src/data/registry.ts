// A registry of named datasets: each entry has a card and a factory per split, so that stage
// trainers and the benchmark ask for ('world', 'train') or ('fashion-mnist', 'test') by name.

import { DIGITS_CARD, digits, FASHION_MNIST_CARD, fashionMnist } from './formats/mnist'
import type { Dataset, DatasetCard, Sample, Split } from './types'
import { WORLD_CARD, worldDataset, type WorldOptions } from './world/world'

export interface RegistryEntry {
  card: DatasetCard
  splits: Split[]
  /** Builds one split; options are entry-specific (sizes, seeds, roots). */
  create(split: Split, options?: Record<string, unknown>): Dataset<Sample>
}

const entries = new Map<string, RegistryEntry>()

export function registerDataset(name: string, entry: RegistryEntry, options: { replace?: boolean } = {}): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) {
    throw new RangeError(`registerDataset: name must be lower-case letters, digits, '.', '_' or '-', got '${name}'`)
  }
  if (entries.has(name) && !options.replace) {
    throw new Error(`registerDataset: '${name}' is already registered; pass {replace: true} to replace it`)
  }
  if (entry.splits.length === 0) throw new RangeError(`registerDataset: '${name}' must have at least one split`)
  entries.set(name, entry)
}

export function getDataset(name: string, split: Split, options?: Record<string, unknown>): Dataset<Sample> {
  const entry = entries.get(name)
  if (!entry) throw new RangeError(`getDataset: no dataset '${name}'; registered: ${[...entries.keys()].join(', ')}`)
  if (!entry.splits.includes(split)) {
    throw new RangeError(`getDataset: '${name}' has no split '${split}'; it has ${entry.splits.join(', ')}`)
  }
  return entry.create(split, options)
}

export function datasetCard(name: string): DatasetCard {
  const entry = entries.get(name)
  if (!entry) throw new RangeError(`datasetCard: no dataset '${name}'; registered: ${[...entries.keys()].join(', ')}`)
  return entry.card
}

export function listDatasets(): { name: string; splits: Split[]; card: DatasetCard }[] {
  return [...entries].map(([name, e]) => ({ name, splits: e.splits, card: e.card }))
}

/** A card as short Markdown, for reports and `--help` output. */
export function formatCard(card: DatasetCard): string {
  const sizes = Object.entries(card.sizes)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ')
  return [
    `### ${card.name}`,
    card.description,
    `- tasks: ${card.tasks.join(', ')}`,
    `- size: ${sizes || 'not known up front'}`,
    `- license: ${card.license}`,
    `- how made: ${card.provenance}`,
    ...(card.citation ? [`- cite: ${card.citation}`] : []),
  ].join('\n')
}

registerDataset('world', {
  card: WORLD_CARD,
  splits: ['train', 'val', 'test'],
  create: (split, options = {}) => worldDataset({ size: WORLD_CARD.sizes[split], ...(options as WorldOptions), split }),
})

registerDataset('fashion-mnist', {
  card: FASHION_MNIST_CARD,
  splits: ['train', 'test'],
  create: (split, options = {}) => fashionMnist({ ...options, split: split as 'train' | 'test' }),
})

registerDataset('digits', {
  card: DIGITS_CARD,
  splits: ['train', 'val', 'test'],
  create: (split, options = {}) => digits({ ...options, split }),
})
