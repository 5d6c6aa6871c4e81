// A world dataset drawn under the split policy: image i is the i-th image of its (seed, split)
// stream that the policy leaves to it (policy.ts streamIndices), passed through a per-sample
// mapping (relabelled objects, filtered captions, derived labels) that samples and
// annotations share, so samplers see exactly the targets training sees.

import { checkIndex, type Annotation, type Dataset, type DatasetInfo, type Recipe, type Sample } from '../types'
import { worldDataset, type WorldDataset, type WorldOptions } from '../world/world'
import { streamIndices } from './policy'

export interface PolicyWorldOptions {
  name: string
  seed: number
  /** One of the policy's splits (UPSTREAM_SPLITS, BENCHMARK_SPLITS). */
  split: string
  size: number
  world: Omit<WorldOptions, 'size' | 'seed' | 'split' | 'name'>
  /** Rewrites a sample's targets; must not touch the image. */
  map?: (sample: Sample) => Sample
  /** Replaces parts of the world's DatasetInfo (name and split are set from the options). */
  info?: (world: DatasetInfo) => Partial<DatasetInfo>
  recipe: Recipe
}

export class PolicyWorld implements Dataset<Sample> {
  readonly length: number
  readonly info: DatasetInfo
  readonly recipe: Recipe
  /** The world index behind each dataset index. */
  readonly streamIndices: Int32Array
  /** What the underlying worldDataset was built with (seed, split, domains, level, targets...). */
  readonly worldOptions: WorldOptions
  private readonly world: WorldDataset
  private readonly map: (sample: Sample) => Sample

  constructor(o: PolicyWorldOptions) {
    this.streamIndices = streamIndices(o.seed, o.split, o.size)
    this.length = o.size
    this.worldOptions = {
      ...o.world,
      size: this.streamIndices[o.size - 1] + 1,
      seed: o.seed,
      split: o.split,
      name: o.name,
    }
    this.world = worldDataset(this.worldOptions)
    this.map = o.map ?? ((s) => s)
    this.info = { ...this.world.info, ...o.info?.(this.world.info), name: o.name }
    this.recipe = o.recipe
  }

  get(index: number): Sample {
    checkIndex(`${this.info.name}.get`, index, this.length)
    return { ...this.map(this.world.get(this.streamIndices[index])), index }
  }

  annotation(index: number): Annotation {
    checkIndex(`${this.info.name}.annotation`, index, this.length)
    const { image: _image, ...rest } = this.map(this.world.get(this.streamIndices[index]))
    return { ...rest, index }
  }
}
