// Small dataset combinators. Each keeps a recipe when its parts have one, so that the result can
// still be rebuilt inside DataLoader workers.

import { nested, rebuild } from './recipe'
import {
  checkIndex,
  type Annotation,
  type Dataset,
  type DatasetInfo,
  type ImageSample,
  type Recipe,
  type Sample,
} from './types'

/** The samples at `indices` (in that order), e.g. a percentage-shot list. */
export function subset<T extends ImageSample>(dataset: Dataset<T>, indices: ArrayLike<number>): Dataset<T> {
  const idx = Int32Array.from(indices)
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] < 0 || idx[i] >= dataset.length || idx[i] !== indices[i]) {
      throw new RangeError(
        `subset: indices[${i}] = ${indices[i]} is not an index of '${dataset.info.name}' (length ${dataset.length})`,
      )
    }
  }
  const recipe: Recipe | undefined = dataset.recipe
    ? { module: __filename, exportName: 'subset', args: [nested(dataset.recipe), idx] }
    : undefined
  const out: Dataset<T> = {
    length: idx.length,
    info: dataset.info,
    recipe,
    get(i: number) {
      checkIndex('subset.get', i, idx.length)
      return dataset.get(idx[i])
    },
  }
  if (dataset.annotation) {
    const annotate = dataset.annotation.bind(dataset)
    out.annotation = (i: number): Annotation | Promise<Annotation> => {
      checkIndex('subset.annotation', i, idx.length)
      return annotate(idx[i])
    }
  }
  return out
}

/** A dataset over samples already in memory (tests, small fixtures). */
export function fromSamples<T extends ImageSample>(samples: T[], info: Partial<DatasetInfo> = {}): Dataset<T> {
  return {
    length: samples.length,
    info: { name: 'samples', split: 'train', tasks: [], labelSpaces: {}, ...info },
    get(i: number) {
      checkIndex('fromSamples.get', i, samples.length)
      return samples[i]
    },
  }
}

/** Targets without pixels: the dataset's cheap path when it has one, else the full sample. */
export async function annotationOf(dataset: Dataset<ImageSample>, index: number): Promise<Annotation> {
  if (dataset.annotation) return dataset.annotation(index)
  const { image: _image, ...rest } = (await dataset.get(index)) as Sample
  return rest
}

export { rebuild }
