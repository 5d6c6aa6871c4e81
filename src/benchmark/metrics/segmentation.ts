// Semantic segmentation metrics over per-pixel class maps. Pixels of every image are pooled into
// one confusion matrix before dividing (the VOC convention), so large and small images weigh by
// their pixel counts; target pixels equal to ignoreIndex (255, GV-D's IGNORE_INDEX) count nowhere.
import { confusionMatrix, meanPresent } from './classification'
import { checkClassIndices, checkNumClasses, pairImages, type PooledValues } from './check'

export interface SegmentationOptions {
  ignoreIndex?: number
}

export interface MeanIoU {
  miou: number
  /** IoU of each class; null for a class absent from the (non-ignored) target, left out of miou. */
  perClass: (number | null)[]
}

/**
 * Mean intersection over union: per class TP / (TP + FP + FN) over the pooled confusion matrix,
 * averaged over the classes present in the target. A class that is only predicted (absent from
 * the target) is left out, but its false positives still lower the IoU of the true classes.
 * `pred` / `target` are one image's H*W class ids or a list of per-image arrays.
 */
export function meanIoU(
  pred: PooledValues,
  target: PooledValues,
  numClasses: number,
  options: SegmentationOptions = {},
): MeanIoU {
  const fn = 'meanIoU'
  checkNumClasses(fn, numClasses)
  const counts = pooledConfusion(fn, pred, target, numClasses, options.ignoreIndex ?? 255)
  const perClass: (number | null)[] = []
  for (let c = 0; c < numClasses; c++) {
    let truth = 0
    let predicted = 0
    for (let k = 0; k < numClasses; k++) {
      truth += counts[c * numClasses + k]
      predicted += counts[k * numClasses + c]
    }
    const tp = counts[c * numClasses + c]
    perClass.push(truth === 0 ? null : tp / (truth + predicted - tp))
  }
  return { miou: meanPresent(perClass), perClass }
}

/** The fraction of non-ignored pixels whose predicted class is right. */
export function pixelAccuracy(pred: PooledValues, target: PooledValues, options: SegmentationOptions = {}): number {
  const fn = 'pixelAccuracy'
  const ignoreIndex = options.ignoreIndex ?? 255
  let correct = 0
  let total = 0
  for (const [p, t, where] of pairImages(fn, ['pred', 'target'], pred, target)) {
    for (let i = 0; i < t.length; i++) {
      if (t[i] === ignoreIndex) continue
      if (!Number.isInteger(t[i]) || t[i] < 0)
        throw new Error(`${fn}: target${where}[${i}] = ${t[i]} is not a class index`)
      if (!Number.isInteger(p[i]) || p[i] < 0)
        throw new Error(`${fn}: pred${where}[${i}] = ${p[i]} is not a class index`)
      total++
      if (p[i] === t[i]) correct++
    }
  }
  if (total === 0) throw new Error(`${fn}: every target pixel is ignored (${ignoreIndex}); the metric is undefined`)
  return correct / total
}

function pooledConfusion(
  fn: string,
  pred: PooledValues,
  target: PooledValues,
  numClasses: number,
  ignoreIndex: number,
): Float64Array {
  const counts = new Float64Array(numClasses * numClasses)
  for (const [p, t, where] of pairImages(fn, ['pred', 'target'], pred, target)) {
    checkClassIndices(fn, `target${where}`, t, numClasses, ignoreIndex)
    for (let i = 0; i < t.length; i++) {
      const v = p[i]
      if (t[i] !== ignoreIndex && !(Number.isInteger(v) && v >= 0 && v < numClasses)) {
        throw new Error(`${fn}: pred${where}[${i}] = ${v} is not a class index in [0, ${numClasses})`)
      }
    }
    confusionMatrix(p, t, numClasses, { ignoreIndex, into: counts })
  }
  let total = 0
  for (const v of counts) total += v
  if (total === 0) throw new Error(`${fn}: every target pixel is ignored (${ignoreIndex}); the metric is undefined`)
  return counts
}
