// Classification metrics on predicted and true class indices (host arrays). Scores are fractions
// in [0, 1], as scikit-learn returns them; the report shows them as percentages.
import { checkClassIndices, checkNotEmpty, checkNumClasses, checkSameLength, type Values } from './check'

/** Top-1 accuracy: the fraction of samples whose predicted class equals the true one. */
export function accuracy(pred: Values, target: Values): number {
  const fn = 'accuracy'
  checkSameLength(fn, ['pred', 'target'], pred, target)
  checkNotEmpty(fn, 'target', target.length)
  let correct = 0
  for (let i = 0; i < target.length; i++) {
    if (!Number.isInteger(pred[i])) throw new Error(`${fn}: pred[${i}] = ${pred[i]} is not a class index`)
    if (!Number.isInteger(target[i])) throw new Error(`${fn}: target[${i}] = ${target[i]} is not a class index`)
    if (pred[i] === target[i]) correct++
  }
  return correct / target.length
}

/**
 * Counts of (true class, predicted class) pairs, row-major: entry [t * numClasses + p] (rows are
 * true classes, as in scikit-learn). Pairs whose target equals `ignoreIndex` are skipped; pass
 * `into` to accumulate over several calls (e.g. image by image).
 */
export function confusionMatrix(
  pred: Values,
  target: Values,
  numClasses: number,
  options: { ignoreIndex?: number; into?: Float64Array } = {},
): Float64Array {
  const fn = 'confusionMatrix'
  checkNumClasses(fn, numClasses)
  checkSameLength(fn, ['pred', 'target'], pred, target)
  const { ignoreIndex, into } = options
  if (into !== undefined && into.length !== numClasses * numClasses) {
    throw new Error(`${fn}: into has ${into.length} entries, expected numClasses^2 = ${numClasses * numClasses}`)
  }
  checkClassIndices(fn, 'target', target, numClasses, ignoreIndex)
  const counts = into ?? new Float64Array(numClasses * numClasses)
  for (let i = 0; i < target.length; i++) {
    const t = target[i]
    if (t === ignoreIndex) continue
    const p = pred[i]
    if (!Number.isInteger(p) || p < 0 || p >= numClasses) {
      throw new Error(`${fn}: pred[${i}] = ${p} is not a class index in [0, ${numClasses})`)
    }
    counts[t * numClasses + p]++
  }
  return counts
}

/** Recall of each class (correct / true samples of the class); null for a class absent from target. */
export function perClassAccuracy(pred: Values, target: Values, numClasses: number): (number | null)[] {
  checkNotEmpty('perClassAccuracy', 'target', target.length)
  return recallPerClass(confusionMatrix(pred, target, numClasses), numClasses)
}

/**
 * Mean per-class accuracy (scikit-learn's balanced accuracy): the mean of each class's recall.
 * Classes absent from target have no recall and are left out of the mean, so the score is over
 * the classes the test set holds.
 */
export function meanPerClassAccuracy(pred: Values, target: Values, numClasses: number): number {
  checkNotEmpty('meanPerClassAccuracy', 'target', target.length)
  const recalls = recallPerClass(confusionMatrix(pred, target, numClasses), numClasses)
  return meanPresent(recalls)
}

function recallPerClass(counts: Float64Array, numClasses: number): (number | null)[] {
  const out: (number | null)[] = []
  for (let c = 0; c < numClasses; c++) {
    let total = 0
    for (let p = 0; p < numClasses; p++) total += counts[c * numClasses + p]
    out.push(total === 0 ? null : counts[c * numClasses + c] / total)
  }
  return out
}

/** The mean of the non-null entries (callers guarantee at least one). */
export function meanPresent(values: (number | null)[]): number {
  let sum = 0
  let n = 0
  for (const v of values) {
    if (v === null) continue
    sum += v
    n++
  }
  return sum / n
}
