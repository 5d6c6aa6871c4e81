// What one batch takes, shared by the inline path and the worker threads so that workers=0 and
// workers=N give the same batches: each sample's augmentation Rng depends only on
// (seed, epoch, dataset index), never on which thread or in which order it was made.

import { collate as defaultCollate, type Batch } from './collate'
import { Rng, stringKey } from './rng'
import type { Transform } from './transforms'
import type { Dataset, ImageSample, Sample } from './types'

export const AUGMENT_KEY = stringKey('DataLoader.augment')
export const SHUFFLE_KEY = stringKey('DataLoader.shuffle')

export type CollateFn = ((samples: Sample[]) => Batch) & { recipe?: unknown }

export async function makeBatch(
  dataset: Dataset<ImageSample>,
  indices: ArrayLike<number>,
  epoch: number,
  seed: number,
  transform: Transform | undefined,
  collate: CollateFn | undefined,
): Promise<Batch> {
  const samples: Sample[] = []
  for (let k = 0; k < indices.length; k++) {
    const index = indices[k]
    let sample = (await dataset.get(index)) as Sample
    if (sample.index === undefined) sample = { ...sample, index }
    if (transform) sample = transform(sample, Rng.derive(seed, AUGMENT_KEY, epoch, index))
    samples.push(sample)
  }
  return (collate ?? defaultCollate)(samples)
}
