// Pedestrian-style detection: the log-average miss rate MR^-2 of Caltech Pedestrians and
// CityPersons (Dollar et al., Caltech toolbox bbGt evalRes/compRoc), single class.
//
// Per image, ground truths outside the evaluated subset (too small or too occluded under
// `reasonable`) and ignore-flagged ones become ignore regions. Detections are matched in
// descending score order: first to the unclaimed non-ignored ground truth with the highest IoU
// (>= threshold); failing that, to an ignore region they overlap by >= threshold of their OWN
// area (intersection / detection area), which may absorb any number of detections. Detections
// on ignore regions are neither true nor false positives. Over the test set, detections in score
// order (ties: by image, then index) trace miss rate against false positives per image (FPPI);
// at each of `points` FPPI values log-spaced over `fppiRange` the miss rate is read at the
// largest FPPI not above it (1 when there is none), and MR^-2 is the geometric mean of these.
import { boxArea, boxIoU, checkDetectionInputs, rankDetections, type Detections, type GroundTruth } from './detection'

export interface MissRateOptions {
  iouThreshold?: number
  /** FPPI interval sampled in log space; Caltech's MR^-2 uses [1e-2, 1]. */
  fppiRange?: [number, number]
  points?: number
  /** The evaluated subset (CityPersons "Reasonable": height >= 50 px, visibility >= 0.65). */
  reasonable?: { minHeight: number; minVisibility: number }
  /** Evaluate only objects and detections with this label (others are dropped); default: all. */
  label?: number
}

export interface LogAverageMissRate {
  /** Log-average miss rate, a fraction in [0, 1]; lower is better. */
  mr2: number
  /** Miss rate at each sampled FPPI. */
  missRates: number[]
  /** The sampled FPPI values. */
  fppi: number[]
}

export function logAverageMissRate(
  detections: readonly Detections[],
  groundTruths: readonly GroundTruth[],
  options: MissRateOptions = {},
): LogAverageMissRate {
  const fn = 'logAverageMissRate'
  const threshold = checkDetectionInputs(fn, detections, groundTruths, undefined, options.iouThreshold)
  const fppi = samplePoints(fn, options.fppiRange ?? [1e-2, 1], options.points ?? 9)
  const { reasonable, label } = options
  if (
    reasonable !== undefined &&
    !(Number.isFinite(reasonable.minHeight) && Number.isFinite(reasonable.minVisibility))
  ) {
    throw new Error(`${fn}: reasonable must have finite minHeight and minVisibility, got ${JSON.stringify(reasonable)}`)
  }
  if (detections.length === 0) throw new Error(`${fn}: no images; the metric is undefined`)

  // outcome per detection: 1 true positive, 0 false positive, -1 on an ignore region
  const outcome = detections.map((d) => new Int8Array(d.scores.length))
  let positives = 0
  groundTruths.forEach((gt, image) => {
    const d = detections[image]
    const objects: { index: number; ignore: boolean }[] = []
    for (let j = 0; j < gt.labels.length; j++) {
      if (label !== undefined && gt.labels[j] !== label) continue
      const height = gt.boxes[4 * j + 3] - gt.boxes[4 * j + 1]
      const outside =
        reasonable !== undefined && (height < reasonable.minHeight || gt.visibility[j] < reasonable.minVisibility)
      objects.push({ index: j, ignore: gt.ignore[j] !== 0 || outside })
    }
    objects.sort((a, b) => Number(a.ignore) - Number(b.ignore))
    positives += objects.filter((o) => !o.ignore).length
    const claimed = new Uint8Array(objects.length)
    const order = rankDetections([d]).filter(({ index }) => label === undefined || d.labels[index] === label)
    for (const { index } of order) {
      let best = -1
      let bestOverlap = threshold
      for (let g = 0; g < objects.length; g++) {
        const o = objects[g]
        if (!o.ignore && claimed[g]) continue
        if (best >= 0 && o.ignore) break
        const overlap = o.ignore
          ? regionOverlap(d.boxes, index, gt.boxes, o.index)
          : boxIoU(d.boxes, index, gt.boxes, o.index)
        if (overlap < bestOverlap) continue
        bestOverlap = overlap
        best = g
      }
      if (best < 0) continue
      if (objects[best].ignore) {
        outcome[image][index] = -1
      } else {
        claimed[best] = 1
        outcome[image][index] = 1
      }
    }
  })
  if (positives === 0)
    throw new Error(`${fn}: the ground truth holds no object in the evaluated subset; the metric is undefined`)

  // the (fppi, recall) curve, one point per counted detection in score order
  const curveFppi: number[] = []
  const curveRecall: number[] = []
  let tp = 0
  let fp = 0
  for (const { image, index } of rankDetections(detections)) {
    if (label !== undefined && detections[image].labels[index] !== label) continue
    const o = outcome[image][index]
    if (o < 0) continue
    if (o === 1) tp++
    else fp++
    curveFppi.push(fp / detections.length)
    curveRecall.push(tp / positives)
  }
  const missRates = fppi.map((ref) => {
    let recall = 0
    for (let k = 0; k < curveFppi.length && curveFppi[k] <= ref; k++) recall = curveRecall[k]
    return 1 - recall
  })
  const logMean = missRates.reduce((s, mr) => s + Math.log(Math.max(1e-10, mr)), 0) / missRates.length
  return { mr2: Math.exp(logMean), missRates, fppi }
}

/** How much of detection i lies inside region j: intersection / detection area (0 for an empty box). */
function regionOverlap(det: ArrayLike<number>, i: number, region: ArrayLike<number>, j: number): number {
  const w = Math.min(det[4 * i + 2], region[4 * j + 2]) - Math.max(det[4 * i], region[4 * j])
  const h = Math.min(det[4 * i + 3], region[4 * j + 3]) - Math.max(det[4 * i + 1], region[4 * j + 1])
  const area = boxArea(det, i)
  return w <= 0 || h <= 0 || area <= 0 ? 0 : (w * h) / area
}

function samplePoints(fn: string, range: [number, number], points: number): number[] {
  const [lo, hi] = range
  if (!(lo > 0 && hi >= lo && Number.isFinite(hi)))
    throw new Error(`${fn}: fppiRange must satisfy 0 < lo <= hi, got [${lo}, ${hi}]`)
  if (!Number.isInteger(points) || points < 1 || (points === 1 && hi !== lo)) {
    throw new Error(`${fn}: points must be a positive integer (1 only when lo = hi), got ${points}`)
  }
  if (points === 1) return [lo]
  const a = Math.log10(lo)
  const step = (Math.log10(hi) - a) / (points - 1)
  return Array.from({ length: points }, (_, i) => 10 ** (a + i * step))
}
