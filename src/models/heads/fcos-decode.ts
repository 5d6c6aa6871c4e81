// From FCOS outputs to detections, on host arrays, as torchvision's FCOS post-processing:
// score = sqrt(sigmoid(class logit) * sigmoid(centerness)); per level the best candidates above
// the threshold; boxes = location -/+ distances, clipped to the image; class-wise NMS; the
// best maxDetections.
import type { Tensor } from '../../tensor/tensor'
import { batchedNms } from './boxes'
import { checkBranch } from './check'
import { outputLevels, type FCOSOutputs } from './fcos'

/** Detections of one image: 4n pixel xyxy boxes, n scores (descending), n labels. */
export interface Detections {
  boxes: Float32Array
  scores: Float32Array
  labels: Int32Array
}

export interface FCOSDecodeOptions {
  /** Which classification branch (source vocabulary) labels the boxes. Default 0. */
  branch?: number
  /** Minimum score kept. Default 0.05 (low, for average precision). */
  scoreThreshold?: number
  /** IoU above which a lower-scored box of the same class is suppressed. Default 0.6. */
  nmsIou?: number
  /** Detections kept per image. Default 100. */
  maxDetections?: number
  /** Candidates kept per level before NMS. Default 1000. */
  topCandidates?: number
  /** [height, width] of the input, to clip boxes. Default: the finest level's size x its stride. */
  imageSize?: [number, number]
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x))

function checkOptions(fn: string, o: FCOSDecodeOptions, branches: number) {
  const branch = checkBranch(fn, o.branch ?? 0, branches)
  const scoreThreshold = o.scoreThreshold ?? 0.05
  const nmsIou = o.nmsIou ?? 0.6
  const maxDetections = o.maxDetections ?? 100
  const topCandidates = o.topCandidates ?? 1000
  if (!(scoreThreshold >= 0 && scoreThreshold <= 1))
    throw new Error(`${fn}: scoreThreshold must be in [0, 1], got ${scoreThreshold}`)
  if (!(nmsIou >= 0 && nmsIou <= 1)) throw new Error(`${fn}: nmsIou must be in [0, 1], got ${nmsIou}`)
  for (const [name, v] of [
    ['maxDetections', maxDetections],
    ['topCandidates', topCandidates],
  ] as const)
    if (!Number.isInteger(v) || v < 1) throw new Error(`${fn}: ${name} must be a positive integer, got ${v}`)
  if (
    o.imageSize !== undefined &&
    !(Array.isArray(o.imageSize) && o.imageSize.length === 2 && o.imageSize.every((s) => s > 0))
  )
    throw new Error(`${fn}: imageSize must be [height, width], got ${JSON.stringify(o.imageSize)}`)
  return { branch, scoreThreshold, nmsIou, maxDetections, topCandidates }
}

export function fcosDecode(outputs: FCOSOutputs, opts: FCOSDecodeOptions = {}): Detections[] {
  const fn = 'fcosDecode'
  const levels = outputLevels(fn, outputs)
  const o = checkOptions(fn, opts, outputs.classLogits.length)
  const [H, W] = opts.imageSize ?? [levels[0].height * levels[0].stride, levels[0].width * levels[0].stride]
  const host = (maps: Tensor[]) => maps.map((m) => m.data())
  const cls = host(outputs.classLogits[o.branch])
  const reg = host(outputs.boxRegression)
  const ctr = host(outputs.centerness)
  const C = outputs.classLogits[o.branch][0].shape[1]
  const N = outputs.boxRegression[0].shape[0]
  return Array.from({ length: N }, (_, n) => {
    const boxes: number[] = []
    const scores: number[] = []
    const labels: number[] = []
    levels.forEach(({ stride, height, width }, l) => {
      const HW = height * width
      const half = Math.floor(stride / 2)
      const candidates: { score: number; p: number; c: number }[] = []
      for (let p = 0; p < HW; p++) {
        const centre = sigmoid(ctr[l][n * HW + p])
        for (let c = 0; c < C; c++) {
          const score = Math.sqrt(sigmoid(cls[l][(n * C + c) * HW + p]) * centre)
          if (Number.isNaN(score)) throw new Error(`${fn}: the outputs of image ${n} hold NaN at level ${l}`)
          if (score > o.scoreThreshold) candidates.push({ score, p, c })
        }
      }
      candidates.sort((a, b) => b.score - a.score)
      for (const { score, p, c } of candidates.slice(0, o.topCandidates)) {
        const x = (p % width) * stride + half
        const y = Math.floor(p / width) * stride + half
        const d = (k: number) => reg[l][(n * 4 + k) * HW + p]
        const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi)
        boxes.push(clip(x - d(0), W), clip(y - d(1), H), clip(x + d(2), W), clip(y + d(3), H))
        scores.push(score)
        labels.push(c)
      }
    })
    const kept = batchedNms(boxes, scores, labels, o.nmsIou).slice(0, o.maxDetections)
    return {
      boxes: Float32Array.from([...kept].flatMap((i) => boxes.slice(4 * i, 4 * i + 4))),
      scores: Float32Array.from(kept, (i) => scores[i]),
      labels: Int32Array.from(kept, (i) => labels[i]),
    }
  })
}
