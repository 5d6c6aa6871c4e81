// Object detection: PASCAL VOC average precision (VOC2010+ all-point interpolation) and its mean
// over classes. Matching follows the VOC devkit: detections of a class in descending score order
// (ties: by image, then by position in the image's list), each to the ground truth of that class
// it overlaps most; a match (IoU >= threshold) to an unclaimed ground truth is a true positive, to
// a claimed one a false positive (duplicate); a match to an ignore-flagged ground truth ('difficult')
// is neither. Ignore-flagged objects do not count as positives.
//
// Boxes are continuous pixel xyxy with exclusive x2/y2 edges (GV-D's convention), so a box's area
// is (x2 - x1) * (y2 - y1); VOC's devkit adds 1 to widths because its boxes have inclusive pixel
// edges, which does not apply here.
import type { ObjectAnnotations } from '../../data/types'
import { checkNumClasses } from './check'

/** The detections of one image: n boxes (4n pixel xyxy floats), scores and class labels. */
export interface Detections {
  boxes: Float32Array
  scores: Float32Array
  labels: Int32Array
}

/** The ground truth of one image: GV-D's object annotations (masks are not used). */
export type GroundTruth = Pick<ObjectAnnotations, 'boxes' | 'labels' | 'visibility' | 'ignore'>

export interface DetectionOptions {
  numClasses: number
  /** Minimum IoU for a match; VOC uses 0.5. */
  iouThreshold?: number
}

export interface MeanAveragePrecision {
  /** Mean AP over the classes that have (non-ignored) ground truth. */
  map: number
  /** AP per class; null for a class without ground truth, left out of map. */
  perClass: (number | null)[]
}

/** VOC mAP over a test set: detections[i] and groundTruths[i] belong to image i. */
export function meanAveragePrecision(
  detections: readonly Detections[],
  groundTruths: readonly GroundTruth[],
  options: DetectionOptions,
): MeanAveragePrecision {
  const fn = 'meanAveragePrecision'
  const threshold = checkDetectionInputs(fn, detections, groundTruths, options.numClasses, options.iouThreshold)
  const perClass: (number | null)[] = []
  for (let c = 0; c < options.numClasses; c++)
    perClass.push(classAveragePrecision(detections, groundTruths, c, threshold))
  const present = perClass.filter((ap): ap is number => ap !== null)
  if (present.length === 0)
    throw new Error(`${fn}: the ground truth holds no (non-ignored) object of any class; mAP is undefined`)
  return { map: present.reduce((s, ap) => s + ap, 0) / present.length, perClass }
}

/** VOC AP of one class; null when that class has no (non-ignored) ground truth. */
export function vocAveragePrecision(
  detections: readonly Detections[],
  groundTruths: readonly GroundTruth[],
  options: DetectionOptions & { classIndex: number },
): number | null {
  const fn = 'vocAveragePrecision'
  const threshold = checkDetectionInputs(fn, detections, groundTruths, options.numClasses, options.iouThreshold)
  const c = options.classIndex
  if (!Number.isInteger(c) || c < 0 || c >= options.numClasses) {
    throw new Error(`${fn}: classIndex ${c} is not in [0, ${options.numClasses})`)
  }
  return classAveragePrecision(detections, groundTruths, c, threshold)
}

function classAveragePrecision(
  detections: readonly Detections[],
  groundTruths: readonly GroundTruth[],
  c: number,
  threshold: number,
): number | null {
  let positives = 0
  for (const gt of groundTruths)
    for (let j = 0; j < gt.labels.length; j++) if (gt.labels[j] === c && !gt.ignore[j]) positives++
  if (positives === 0) return null

  const claimed = groundTruths.map((gt) => new Uint8Array(gt.labels.length))
  const hits: boolean[] = []
  for (const { image, index } of rankDetections(detections, c)) {
    const gt = groundTruths[image]
    const box = detections[image].boxes
    let best = -1
    let bestIoU = -Infinity
    for (let j = 0; j < gt.labels.length; j++) {
      if (gt.labels[j] !== c) continue
      const iou = boxIoU(box, index, gt.boxes, j)
      if (iou > bestIoU) {
        bestIoU = iou
        best = j
      }
    }
    if (best >= 0 && bestIoU >= threshold) {
      if (gt.ignore[best]) continue
      hits.push(!claimed[image][best])
      claimed[image][best] = 1
    } else {
      hits.push(false)
    }
  }
  return allPointAveragePrecision(hits, positives)
}

/** The area under the precision envelope (precision made non-increasing in recall), VOC2010+. */
function allPointAveragePrecision(hits: boolean[], positives: number): number {
  const recall = [0]
  const precision = [0]
  let tp = 0
  hits.forEach((hit, k) => {
    if (hit) tp++
    recall.push(tp / positives)
    precision.push(tp / (k + 1))
  })
  recall.push(1)
  precision.push(0)
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i], precision[i + 1])
  let ap = 0
  for (let i = 0; i + 1 < recall.length; i++) ap += (recall[i + 1] - recall[i]) * precision[i + 1]
  return ap
}

/** Detections of class c (or of every class when c is undefined) by descending score; ties by image, then index. */
export function rankDetections(
  detections: readonly Detections[],
  c?: number,
): { image: number; index: number; score: number }[] {
  const ranked: { image: number; index: number; score: number }[] = []
  detections.forEach((d, image) => {
    for (let index = 0; index < d.scores.length; index++) {
      if (c === undefined || d.labels[index] === c) ranked.push({ image, index, score: d.scores[index] })
    }
  })
  return ranked.sort((a, b) => b.score - a.score || a.image - b.image || a.index - b.index)
}

/** IoU of box i of `a` and box j of `b` (4 floats per box, xyxy with exclusive edges). */
export function boxIoU(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const w = Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j])
  const h = Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1])
  if (w <= 0 || h <= 0) return 0
  const inter = w * h
  return inter / (boxArea(a, i) + boxArea(b, j) - inter)
}

export function boxArea(a: ArrayLike<number>, i: number): number {
  return (a[4 * i + 2] - a[4 * i]) * (a[4 * i + 3] - a[4 * i + 1])
}

/**
 * Checks one test set's detections and ground truths (same image count, consistent lengths,
 * finite boxes with x1 <= x2 and y1 <= y2, finite scores, labels in range) and returns the IoU
 * threshold. `numClasses` undefined means any non-negative integer label is allowed.
 */
export function checkDetectionInputs(
  fn: string,
  detections: readonly Detections[],
  groundTruths: readonly GroundTruth[],
  numClasses: number | undefined,
  iouThreshold = 0.5,
): number {
  if (numClasses !== undefined) checkNumClasses(fn, numClasses)
  if (!(iouThreshold > 0 && iouThreshold <= 1))
    throw new Error(`${fn}: iouThreshold must be in (0, 1], got ${iouThreshold}`)
  if (detections.length !== groundTruths.length) {
    throw new Error(`${fn}: detections cover ${detections.length} images but groundTruths cover ${groundTruths.length}`)
  }
  detections.forEach((d, i) => {
    const where = `detections[${i}]`
    const n = d.scores.length
    if (d.boxes.length !== 4 * n || d.labels.length !== n) {
      throw new Error(
        `${fn}: ${where} has ${d.boxes.length} box values, ${n} scores and ${d.labels.length} labels; expected 4n, n and n`,
      )
    }
    for (let k = 0; k < n; k++) {
      if (!Number.isFinite(d.scores[k]))
        throw new Error(`${fn}: ${where}.scores[${k}] is ${d.scores[k]}; scores must be finite`)
    }
    checkBoxes(fn, `${where}.boxes`, d.boxes)
    checkLabels(fn, `${where}.labels`, d.labels, numClasses)
  })
  groundTruths.forEach((g, i) => {
    const where = `groundTruths[${i}]`
    const m = g.labels.length
    if (g.boxes.length !== 4 * m || g.visibility.length !== m || g.ignore.length !== m) {
      throw new Error(
        `${fn}: ${where} has ${g.boxes.length} box values, ${m} labels, ${g.visibility.length} visibilities and ${g.ignore.length} ignore flags; expected 4m, m, m and m`,
      )
    }
    checkBoxes(fn, `${where}.boxes`, g.boxes)
    checkLabels(fn, `${where}.labels`, g.labels, numClasses)
  })
  return iouThreshold
}

function checkBoxes(fn: string, name: string, boxes: Float32Array): void {
  for (let k = 0; k < boxes.length; k += 4) {
    const [x1, y1, x2, y2] = [boxes[k], boxes[k + 1], boxes[k + 2], boxes[k + 3]]
    if (![x1, y1, x2, y2].every(Number.isFinite) || x2 < x1 || y2 < y1) {
      throw new Error(
        `${fn}: ${name} box ${k / 4} is [${x1}, ${y1}, ${x2}, ${y2}]; expected finite xyxy with x1 <= x2, y1 <= y2`,
      )
    }
  }
}

function checkLabels(fn: string, name: string, labels: Int32Array, numClasses: number | undefined): void {
  for (let k = 0; k < labels.length; k++) {
    const v = labels[k]
    if (v < 0 || (numClasses !== undefined && v >= numClasses)) {
      const range = numClasses === undefined ? 'a non-negative class index' : `a class index in [0, ${numClasses})`
      throw new Error(`${fn}: ${name}[${k}] = ${v} is not ${range}`)
    }
  }
}
