// GV-D's split policy: what upstream pretraining may see and what only the benchmark (GV-B) sees.
// INTERN's claim is transfer to data the upstream stages never met, so the benchmark's world
// images come from held-out domains, its fine-grained task from held-out label spaces, and
// every world image, upstream or downstream, from a (seed, split) stream reserved for it here.
//
// Streams are not enough on their own. worldDataset derives all of image i's randomness from
// one 32-bit image seed, mixSeed(seed, stringKey(split), i). Different (seed, split) pairs give
// unrelated streams, but two unrelated streams of 2^17 images share about four image seeds
// (the birthday bound), and equal image seeds with equal options give equal pixels; with
// another image size or domain they still give the same scene, scaled or restyled. So streams
// are ranked, most protected first, and each stream skips the image seeds that the streams
// ranked above it use (up to their capacity): no benchmark test scene appears anywhere else,
// no benchmark train scene upstream, no upstream val scene in upstream training.

import { mixSeed, stringKey } from '../rng'
import { TEXTURE_NAMES } from '../world/concepts'
import type { WorldDomain } from '../world/domains'

/** Domains upstream trains in: clean renders and three camera degradations of them. */
export const UPSTREAM_DOMAINS: readonly WorldDomain[] = ['clean', 'noisy', 'blurred', 'lowContrast']

/**
 * Domains only the benchmark uses: a change of style (line drawings), of colour statistics
 * (hue rotation: colour words stop matching pixels) and of textures (real Fashion-MNIST
 * images). They change appearance far more than the upstream degradations do, which is the
 * gap a general representation has to bridge.
 */
export const HELD_OUT_DOMAINS: readonly WorldDomain[] = ['sketch', 'colourShift', 'fashion']

/** Label spaces upstream sources may supervise with. */
export const UPSTREAM_LABEL_SPACES: readonly string[] = ['family', 'shape', 'colour', 'count']

/**
 * Label spaces no upstream source names: texture, and 'fine' (shape x colour x texture), which
 * contains it. The benchmark's fine-grained task tells classes apart by texture, so upstream
 * must learn textures only as pixels, never as labels.
 */
export const HELD_OUT_LABEL_SPACES: readonly string[] = ['texture', 'fine']

/** Caption words that name a held-out label; upstream captions drop them ('plain' is never said). */
export const HELD_OUT_WORDS: readonly string[] = TEXTURE_NAMES.filter((t) => t !== 'plain')

/** World split names: the namespace keeps upstream and benchmark streams apart whatever the seed. */
export const UPSTREAM_SPLITS = { train: 'upstream-train', val: 'upstream-val' } as const
export const BENCHMARK_SPLITS = { train: 'benchmark-train', test: 'benchmark-test' } as const

/** World seed of each upstream source (1000s) and each benchmark world task (2000s). */
export const UPSTREAM_WORLD_SEEDS: Readonly<Record<string, number>> = {
  'up-image-text': 1001,
  'up-cls-shape-lt': 1002,
  'up-cls-colour': 1003,
  'up-cls-family': 1004,
  'up-det-round-polygon': 1005,
  'up-det-symbol': 1006,
  'up-seg-family': 1007,
}
export const BENCHMARK_WORLD_SEEDS: Readonly<Record<string, number>> = {
  'world-sketch-shape': 2001,
  'world-texture-lt': 2002,
  'world-detection': 2003,
  'world-pedestrian': 2004,
  'world-segmentation': 2005,
  'world-depth': 2006,
}

/** Most images a benchmark split or an upstream val split may hold (what the ranking reserves). */
export const BENCHMARK_CAPACITY = 5000
export const UPSTREAM_VAL_CAPACITY = 2000

interface Rank {
  split: string
  seeds: Readonly<Record<string, number>>
  capacity: number
}

/** Streams from most to least protected; each avoids the image seeds of every rank above it. */
const RANKS: Rank[] = [
  { split: BENCHMARK_SPLITS.test, seeds: BENCHMARK_WORLD_SEEDS, capacity: BENCHMARK_CAPACITY },
  { split: BENCHMARK_SPLITS.train, seeds: BENCHMARK_WORLD_SEEDS, capacity: BENCHMARK_CAPACITY },
  { split: UPSTREAM_SPLITS.val, seeds: UPSTREAM_WORLD_SEEDS, capacity: UPSTREAM_VAL_CAPACITY },
  { split: UPSTREAM_SPLITS.train, seeds: UPSTREAM_WORLD_SEEDS, capacity: Infinity },
]

/** The seed worldDataset derives every draw of image `index` of (seed, split) from. */
export function imageSeed(seed: number, split: string, index: number): number {
  return mixSeed(seed, stringKey(split), index)
}

const reserved: Set<number>[] = []

/** Image seeds used by every stream ranked above `rank`, each at its capacity. */
function reservedAbove(rank: number): Set<number> {
  if (reserved[rank]) return reserved[rank]
  const out = new Set<number>(rank > 0 ? reservedAbove(rank - 1) : [])
  if (rank > 0) {
    const above = RANKS[rank - 1]
    for (const seed of Object.values(above.seeds)) {
      for (const j of streamIndices(seed, above.split, above.capacity)) out.add(imageSeed(seed, above.split, j))
    }
  }
  reserved[rank] = out
  return out
}

/**
 * The world indices of the first `size` images of stream (seed, split) under the policy: those
 * whose image seed no stream ranked above it uses. `split` must be one of the policy's splits
 * and `seed` one of that split's reserved seeds.
 */
export function streamIndices(seed: number, split: string, size: number): Int32Array {
  const fn = 'streamIndices'
  const rank = RANKS.findIndex((r) => r.split === split)
  if (rank < 0)
    throw new RangeError(
      `${fn}: split '${split}' is not a GV-D policy split; known: ${RANKS.map((r) => r.split).join(', ')}`,
    )
  const { seeds, capacity } = RANKS[rank]
  if (!Object.values(seeds).includes(seed)) {
    throw new RangeError(
      `${fn}: seed ${seed} is not reserved for split '${split}'; reserved: ${Object.values(seeds).join(', ')}`,
    )
  }
  if (!Number.isInteger(size) || size < 1 || size > capacity) {
    throw new RangeError(`${fn}: size must be an integer in [1, ${capacity}] for split '${split}', got ${size}`)
  }
  const avoid = reservedAbove(rank)
  const key = stringKey(split)
  const out = new Int32Array(size)
  for (let j = 0, n = 0; n < size; j++) if (!avoid.has(mixSeed(seed, key, j))) out[n++] = j
  return out
}
