// The upstream sources of GV-D: the data the Up-A, Up-E and Up-G stages train on, each a
// world stream under the split policy (policy.ts), so upstream meets only upstream domains and
// label spaces. Each source looks like one real dataset: its own domains, its own label space
// or object vocabulary, its own held-out val split. Registered as 'up-*' datasets too.

import { LabelSpace } from '../labels'
import { registerDataset } from '../registry'
import { selectObjects } from '../transforms'
import type { Dataset, DatasetCard, DatasetInfo, Sample, Task } from '../types'
import { COLOUR_NAMES, FAMILIES, FAMILY_NAMES, SHAPE_NAMES } from '../world/concepts'
import type { WorldOptions } from '../world/world'
import {
  HELD_OUT_WORDS,
  UPSTREAM_DOMAINS,
  UPSTREAM_SPLITS,
  UPSTREAM_VAL_CAPACITY,
  UPSTREAM_WORLD_SEEDS,
} from './policy'
import { PolicyWorld } from './policy-world'

export type UpstreamTask = Extract<Task, 'imageText' | 'classification' | 'detection' | 'segmentation'>

export interface UpstreamCreateOptions {
  /** Images; default: the card's size for the split. Val holds at most UPSTREAM_VAL_CAPACITY. */
  size?: number
  /** Square side in pixels; default: the source's imageSize. */
  imageSize?: number
  split?: 'train' | 'val'
}

export interface UpstreamSource {
  name: string
  task: UpstreamTask
  /** Classification: the key of sample.labels that holds the target. */
  labelSpace?: string
  /** Classes of the target (detection: object classes without background; segmentation: with it; image-text: 0). */
  numClasses: number
  classNames: string[]
  /** Default square side. */
  imageSize: number
  card: DatasetCard
  create(options?: UpstreamCreateOptions): Dataset<Sample>
}

interface SourceSpec {
  task: UpstreamTask
  description: string
  labelSpace?: string
  classNames: string[]
  imageSize: number
  world: Omit<WorldOptions, 'size' | 'seed' | 'split' | 'name' | 'imageSize'>
  map: (sample: Sample) => Sample
  info: (world: DatasetInfo) => Partial<DatasetInfo>
}

const DEFAULT_SIZES = { train: 20000, val: 1000 }
const HELD_OUT_WORD = new RegExp(`\\b(?:${HELD_OUT_WORDS.join('|')})\\s+`, 'g')

/** A caption with the words that name held-out labels removed (a texture word always precedes its shape). */
export function stripHeldOutWords(caption: string): string {
  return caption.replace(HELD_OUT_WORD, '')
}

function classification(
  space: string,
  classNames: string[],
  description: string,
  world: SourceSpec['world'],
): SourceSpec {
  return {
    task: 'classification',
    description,
    labelSpace: space,
    classNames,
    imageSize: 32,
    world: { ...world, targets: ['labels'] },
    // Only the source's own label: the world also labels held-out spaces (texture, fine), and
    // its taxonomy names the fine concepts, so neither comes along.
    map: (s) => ({ ...s, labels: { [space]: s.labels![space] } }),
    info: () => ({ labelSpaces: { [space]: new LabelSpace(space, classNames) }, taxonomy: undefined }),
  }
}

/** Objects of the vocabulary's shapes, relabelled 0..K-1; other shapes are background to this source. */
function detection(vocabulary: string[], description: string, world: SourceSpec['world']): SourceSpec {
  const lookup = Int32Array.from(SHAPE_NAMES, (name) => vocabulary.indexOf(name))
  return {
    task: 'detection',
    description,
    classNames: vocabulary,
    imageSize: 64,
    world: { ...world, level: 'shape', targets: ['objects'] },
    map: (s) => {
      const o = s.objects!
      const keep = Array.from(o.labels.keys()).filter((k) => lookup[o.labels[k]] >= 0)
      const objects = selectObjects(o, keep, s.image.height * s.image.width)
      objects.labels = objects.labels.map((shape) => lookup[shape])
      return { ...s, objects }
    },
    info: () => ({
      labelSpaces: { object: new LabelSpace('object', vocabulary) },
      objectLabelSpace: 'object',
      taxonomy: undefined,
    }),
  }
}

const SPECS: Record<string, SourceSpec> = {
  'up-image-text': {
    task: 'imageText',
    description:
      'Scenes with captions (objects, size, colour, one spatial relation) in the four upstream domains; texture words removed.',
    classNames: [],
    imageSize: 32,
    world: { domains: [...UPSTREAM_DOMAINS], targets: ['caption'] },
    map: (s) => ({ ...s, caption: stripHeldOutWords(s.caption!) }),
    info: () => ({ labelSpaces: {}, taxonomy: undefined }),
  },
  'up-cls-shape-lt': classification(
    'shape',
    SHAPE_NAMES,
    'Shape of the most visible object (12 classes), long-tailed (Zipf exponent 1 over shapes), 1-3 objects, clean and noisy domains.',
    { domains: ['clean', 'noisy'], objects: [1, 3], longTail: 1 },
  ),
  'up-cls-colour': classification(
    'colour',
    COLOUR_NAMES,
    'Colour of the most visible object (8 classes), 1-3 objects, clean and blurred domains.',
    { domains: ['clean', 'blurred'], objects: [1, 3] },
  ),
  'up-cls-family': classification(
    'family',
    FAMILY_NAMES,
    'Shape family of the most visible object (round, polygon, symbol), 1-3 objects, clean, noisy and low-contrast domains.',
    { domains: ['clean', 'noisy', 'lowContrast'], objects: [1, 3] },
  ),
  'up-det-round-polygon': detection(
    [...FAMILIES.round, ...FAMILIES.polygon],
    'Boxes of round and polygon shapes (8 classes; symbols are unlabelled background), with visibility and ignore flags, 1-6 objects, clean, noisy and blurred domains.',
    { domains: ['clean', 'noisy', 'blurred'] },
  ),
  'up-det-symbol': detection(
    [...FAMILIES.symbol],
    'Boxes of symbol shapes (star, cross, heart, arrow; other shapes are unlabelled background), with visibility and ignore flags, 1-6 objects, clean and low-contrast domains.',
    { domains: ['clean', 'lowContrast'] },
  ),
  'up-seg-family': {
    task: 'segmentation',
    description:
      'Per-pixel shape family (background, round, polygon, symbol; 255 = ignored object) in the four upstream domains.',
    classNames: ['background', ...FAMILY_NAMES],
    imageSize: 64,
    world: { domains: [...UPSTREAM_DOMAINS], level: 'family', targets: ['segmentation'] },
    map: (s) => s,
    info: (w) => ({
      labelSpaces: { segmentation: w.labelSpaces.segmentation },
      segmentationLabelSpace: 'segmentation',
      taxonomy: undefined,
    }),
  },
}

function cardOf(name: string, spec: SourceSpec): DatasetCard {
  return {
    name,
    description: spec.description,
    tasks: [spec.task],
    sizes: { ...DEFAULT_SIZES },
    license: 'Apache-2.0 (generated by intern-vision)',
    provenance:
      `Procedural world (src/data/world), seed ${UPSTREAM_WORLD_SEEDS[name]}, splits '${UPSTREAM_SPLITS.train}' and ` +
      `'${UPSTREAM_SPLITS.val}', drawn under the GV-D split policy (src/data/gvd/policy.ts): upstream domains and ` +
      `label spaces only, no scene shared with the benchmark. Any size can be drawn for train; val holds at most ` +
      `${UPSTREAM_VAL_CAPACITY} images.`,
  }
}

const SOURCES = new Map<string, UpstreamSource>(
  Object.entries(SPECS).map(([name, spec]) => [
    name,
    {
      name,
      task: spec.task,
      labelSpace: spec.labelSpace,
      numClasses: spec.classNames.length,
      classNames: [...spec.classNames],
      imageSize: spec.imageSize,
      card: cardOf(name, spec),
      create: (options: UpstreamCreateOptions = {}) => upstreamDataset(name, options),
    },
  ]),
)

export function upstreamSource(name: string): UpstreamSource {
  const source = SOURCES.get(name)
  if (!source) throw new RangeError(`upstreamSource: no source '${name}'; known: ${[...SOURCES.keys()].join(', ')}`)
  return source
}

export function listUpstreamSources(task?: UpstreamTask): UpstreamSource[] {
  return [...SOURCES.values()].filter((s) => task === undefined || s.task === task)
}

/** One split of an upstream source (what UpstreamSource.create calls; DataLoader workers rebuild it by name). */
export function upstreamDataset(name: string, options: UpstreamCreateOptions = {}): Dataset<Sample> {
  const spec = SPECS[name]
  if (!spec) throw new RangeError(`upstreamDataset: no source '${name}'; known: ${Object.keys(SPECS).join(', ')}`)
  const split = options.split ?? 'train'
  if (split !== 'train' && split !== 'val') {
    throw new RangeError(`upstreamDataset: '${name}' has splits 'train' and 'val', got '${split}'`)
  }
  const size = options.size ?? DEFAULT_SIZES[split]
  const most = split === 'val' ? UPSTREAM_VAL_CAPACITY : Number.MAX_SAFE_INTEGER
  if (!Number.isInteger(size) || size < 1 || size > most) {
    throw new RangeError(`upstreamDataset: size of '${name}' ${split} must be an integer in [1, ${most}], got ${size}`)
  }
  const card = cardOf(name, spec)
  return new PolicyWorld({
    name,
    seed: UPSTREAM_WORLD_SEEDS[name],
    split: UPSTREAM_SPLITS[split],
    size,
    world: { ...spec.world, imageSize: options.imageSize ?? spec.imageSize },
    map: spec.map,
    info: (w) => ({ ...spec.info(w), split, tasks: [spec.task], card: { ...card, sizes: { [split]: size } } }),
    recipe: { module: __filename, exportName: 'upstreamDataset', args: [name, options] },
  })
}

for (const source of SOURCES.values()) {
  registerDataset(source.name, {
    card: source.card,
    splits: ['train', 'val'],
    create: (split, options = {}) =>
      source.create({ ...(options as UpstreamCreateOptions), split: split as 'train' | 'val' }),
  })
}
