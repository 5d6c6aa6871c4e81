// What an expert learns, per task type: the heads over a shared backbone (one per source label
// space), their loss on a source-balanced batch, their held-out metric, and the batches
// themselves. Experts train these; a generalist reloads them and trains them on its own features.
import { noGrad } from '../autograd/grad-mode'
import { accuracy } from '../benchmark/metrics/classification'
import { meanAveragePrecision, type Detections, type GroundTruth } from '../benchmark/metrics/detection'
import { meanIoU } from '../benchmark/metrics/segmentation'
import { collate } from '../data/collate'
import { upstreamSource, type UpstreamSource } from '../data/gvd/upstream'
import { Rng, stringKey } from '../data/rng'
import { batchToTensors, type TensorBatch } from '../data/to-tensor'
import type { Dataset, Sample } from '../data/types'
import { Detector, imageObjects } from '../models/heads/detector'
import { SegmentationHead, segmentationLoss } from '../models/heads/segmentation'
import type { Backbone } from '../models/zoo'
import { Linear, Module, ModuleList } from '../nn'
import { cat, crossEntropy } from '../ops'
import { scope } from '../tensor/memory'
import type { Tensor } from '../tensor/tensor'
import type { ExpertType } from './stage-io'

export const EXPERT_TASKS: Record<ExpertType, UpstreamSource['task']> = {
  C: 'classification',
  D: 'detection',
  S: 'segmentation',
}

/** One source's share of a batch: its samples, their tensors, and its head's index. */
export interface SourceBatch {
  head: number
  source: UpstreamSource
  samples: Sample[]
  batch: TensorBatch
}

export interface StepLoss {
  loss: Tensor
  /** Named parts of the loss, for the log. */
  terms: Record<string, number>
}

/** A held-out metric accumulated batch by batch (higher is better). */
export interface Metric {
  add(backbone: Backbone, part: SourceBatch): void
  value(): number
}

/** The heads of one expert type over a shared backbone, one per source. */
export interface TaskHead extends Module {
  readonly type: ExpertType
  /** The sources of the heads, in head order. */
  readonly sources: UpstreamSource[]
  /** The loss of a source-balanced batch (all parts go through the backbone as one batch). */
  loss(backbone: Backbone, parts: SourceBatch[]): StepLoss
  /** A fresh accumulator of the type's metric for one source. */
  metric(): Metric
}

const imagesOf = (parts: SourceBatch[]): Tensor => cat(parts.map((p) => p.batch.images))

/** Each part's rows of a tensor computed on the whole batch. */
function rowsOf(parts: SourceBatch[], t: Tensor): Tensor[] {
  let row = 0
  return parts.map((p) => {
    const rows = t.narrow(0, row, p.batch.size)
    row += p.batch.size
    return rows
  })
}

function meanOverSources(parts: SourceBatch[], losses: Tensor[]): StepLoss {
  const terms: Record<string, number> = {}
  losses.forEach((l, i) => (terms[`loss/${parts[i].source.name}`] = l.item()))
  const total = losses.slice(1).reduce((sum, l) => sum.add(l), losses[0])
  return { loss: losses.length > 1 ? total.div(losses.length) : total, terms }
}

/** C: a linear classifier per source on the pooled feature; mean cross-entropy over sources; top-1 accuracy. */
export class ClassifierHeads extends Module implements TaskHead {
  readonly type = 'C' as const
  classifiers: ModuleList<Linear>

  constructor(
    backbone: Backbone,
    readonly sources: UpstreamSource[],
  ) {
    super()
    this.classifiers = new ModuleList(sources.map((s) => new Linear(backbone.pooledDim, s.numClasses)))
  }

  private logits(backbone: Backbone, parts: SourceBatch[]): Tensor[] {
    return rowsOf(parts, backbone.forwardPooled(imagesOf(parts))).map((rows, i) =>
      this.classifiers.get(parts[i].head).forward(rows),
    )
  }

  loss(backbone: Backbone, parts: SourceBatch[]): StepLoss {
    return meanOverSources(
      parts,
      this.logits(backbone, parts).map((l, i) => crossEntropy(l, classLabels(parts[i]))),
    )
  }

  metric(): Metric {
    const pred: number[] = []
    const target: number[] = []
    return {
      add: (backbone, part) => {
        pred.push(...this.logits(backbone, [part])[0].argmax(1).data())
        target.push(...classLabels(part).data())
      },
      value: () => accuracy(pred, target),
    }
  }
}

function classLabels(p: SourceBatch): Tensor {
  const space = p.source.labelSpace
  const labels = space === undefined ? undefined : p.batch.labels?.[space]
  if (!labels) throw new Error(`expert C: source '${p.source.name}' gave no labels in space '${space}'`)
  return labels
}

/**
 * D: one FCOS detector (FPN + head) on the backbone's feature maps with a classification branch
 * per source vocabulary; one FCOS loss over the whole batch, each image scored by its source's
 * branch; metric VOC mAP at IoU 0.5.
 */
export class DetectionHeads extends Module implements TaskHead {
  readonly type = 'D' as const
  detector: Detector

  constructor(
    backbone: Backbone,
    readonly sources: UpstreamSource[],
  ) {
    super()
    this.detector = new Detector(
      backbone.featureChannels,
      sources.map((s) => s.numClasses),
      { strides: backbone.featureStrides },
    )
  }

  loss(backbone: Backbone, parts: SourceBatch[]): StepLoss {
    const objects = parts.flatMap((p) => imageObjects('expert D', objectsOf(p)))
    const branch = parts.flatMap((p) => new Array<number>(p.batch.size).fill(p.head))
    const l = this.detector.loss(backbone.forwardFeatures(imagesOf(parts)), objects, { branch })
    return {
      loss: l.loss,
      terms: {
        'loss/classification': l.classification.item(),
        'loss/box': l.box.item(),
        'loss/centerness': l.centerness.item(),
      },
    }
  }

  metric(): Metric {
    const detections: Detections[] = []
    const truth: GroundTruth[] = []
    let numClasses = 0
    return {
      add: (backbone, part) => {
        const [, , H, W] = part.batch.images.shape
        detections.push(
          ...this.detector.predict(backbone.forwardFeatures(part.batch.images), {
            branch: part.head,
            imageSize: [H, W],
          }),
        )
        truth.push(...part.samples.map((s) => s.objects!))
        numClasses = part.source.numClasses
      },
      value: () => meanAveragePrecision(detections, truth, { numClasses, iouThreshold: 0.5 }).map,
    }
  }
}

function objectsOf(p: SourceBatch): NonNullable<TensorBatch['objects']> {
  if (!p.batch.objects) throw new Error(`expert D: source '${p.source.name}' gave no objects`)
  return p.batch.objects
}

/**
 * S: one segmentation head (dense decoder) on the feature maps with a 1x1 classifier per source
 * vocabulary; mean over sources of the per-pixel cross-entropy; metric mIoU.
 */
export class SegmentationHeads extends Module implements TaskHead {
  readonly type = 'S' as const
  segmenter: SegmentationHead

  constructor(
    backbone: Backbone,
    readonly sources: UpstreamSource[],
  ) {
    super()
    this.segmenter = new SegmentationHead(
      backbone.featureChannels,
      sources.map((s) => s.numClasses),
    )
  }

  private logits(backbone: Backbone, parts: SourceBatch[]): Tensor[] {
    const images = imagesOf(parts)
    const all = this.segmenter.forwardAll(backbone.forwardFeatures(images), [images.shape[2], images.shape[3]])
    let row = 0
    return parts.map((p) => {
      const rows = all[p.head].narrow(0, row, p.batch.size)
      row += p.batch.size
      return rows
    })
  }

  loss(backbone: Backbone, parts: SourceBatch[]): StepLoss {
    return meanOverSources(
      parts,
      this.logits(backbone, parts).map((l, i) => segmentationLoss(l, classMaps(parts[i]))),
    )
  }

  metric(): Metric {
    const pred: Int32Array[] = []
    const target: Uint8Array[] = []
    let numClasses = 0
    return {
      add: (backbone, part) => {
        pred.push(this.logits(backbone, [part])[0].argmax(1).data() as Int32Array)
        target.push(...part.samples.map((s) => s.segmentation!))
        numClasses = part.source.numClasses
      },
      value: () =>
        meanIoU(
          pred.flatMap((p) => splitImages(p, target[0].length)),
          target,
          numClasses,
        ).miou,
    }
  }
}

function classMaps(p: SourceBatch): Tensor {
  if (!p.batch.segmentation) throw new Error(`expert S: source '${p.source.name}' gave no segmentation maps`)
  return p.batch.segmentation
}

function splitImages(flat: Int32Array, plane: number): Int32Array[] {
  return Array.from({ length: flat.length / plane }, (_, i) => flat.subarray(i * plane, (i + 1) * plane))
}

/** The heads of an expert of `type` over `backbone`, one per source. */
export function createTaskHead(type: ExpertType, backbone: Backbone, sources: UpstreamSource[]): TaskHead {
  if (type === 'C') return new ClassifierHeads(backbone, sources)
  if (type === 'D') return new DetectionHeads(backbone, sources)
  if (type === 'S') return new SegmentationHeads(backbone, sources)
  throw new Error(`createTaskHead: unknown expert type '${String(type)}'`)
}

/** The registered sources by name, checked against the task of an expert of `type`. */
export function resolveSources(fn: string, type: ExpertType, names: string[]): UpstreamSource[] {
  if (!Array.isArray(names) || names.length === 0) throw new Error(`${fn}: an expert needs at least one source`)
  const seen = new Set<string>()
  return names.map((name) => {
    if (seen.has(name)) throw new Error(`${fn}: source '${name}' is given twice`)
    seen.add(name)
    let s: UpstreamSource
    try {
      s = upstreamSource(name)
    } catch (e) {
      throw new Error(`${fn}: ${(e as Error).message.replace(/^upstreamSource: /, '')}`)
    }
    if (s.task !== EXPERT_TASKS[type])
      throw new Error(
        `${fn}: source '${name}' is a ${s.task} source; a ${type} expert needs ${EXPERT_TASKS[type]} sources`,
      )
    return s
  })
}

/** `total` split as evenly as possible into `parts` shares (the first ones take the remainder). */
export function shares(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0))
}

/** One source's samples of a batch from BalancedBatches, before they become tensors. */
export interface RawSourceBatch {
  head: number
  source: UpstreamSource
  samples: Sample[]
}

/**
 * Source-balanced batches: batch i takes `share[s]` images from each source s, in a seeded order
 * that reshuffles each time a source is used up, so batch i is a pure function of (seed, i).
 * Every source's head gets a gradient at every step and batch norm sees a mix of sources, which a
 * round-robin over sources (one source per step) would give neither.
 */
export class BalancedBatches {
  private order: { key: string; indices: Int32Array } | null = null

  constructor(
    readonly sources: UpstreamSource[],
    readonly datasets: Dataset<Sample>[],
    readonly share: number[],
    readonly seed: number,
  ) {}

  /** Source s's dataset index at position `at` of its stream. */
  private index(s: number, at: number): number {
    const n = this.datasets[s].length
    const cycle = Math.floor(at / n)
    const key = `${s}:${cycle}`
    if (this.order?.key !== key) {
      const indices = Int32Array.from({ length: n }, (_, i) => i)
      Rng.derive(this.seed, stringKey(this.sources[s].name), cycle).shuffle(indices)
      this.order = { key, indices }
    }
    return this.order.indices[at % n]
  }

  /**
   * Batch i: each source's share of samples, `head` being the source's position; of a
   * data-parallel run's batch, `part`'s samples only (k = rank, rank + worldSize, ...).
   */
  async get(i: number, part = { rank: 0, worldSize: 1 }): Promise<RawSourceBatch[]> {
    const out: RawSourceBatch[] = []
    for (const [s, source] of this.sources.entries()) {
      const samples: Sample[] = []
      for (let k = part.rank; k < this.share[s]; k += part.worldSize)
        samples.push(await this.datasets[s].get(this.index(s, i * this.share[s] + k)))
      out.push({ head: s, source, samples })
    }
    return out
  }
}

/** A batch from BalancedBatches.get with its tensors. */
export function toSourceBatches(raw: RawSourceBatch[]): SourceBatch[] {
  return raw.map((r) => ({ ...r, batch: batchToTensors(collate(r.samples)) }))
}

/** The metric of `head` on each source's held-out val split (`size` images each, batches of 64), by source name. */
export async function evaluateHeads(
  head: TaskHead,
  backbone: Backbone,
  imageSize: number,
  size: number,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  backbone.eval()
  head.eval()
  for (const [s, source] of head.sources.entries()) {
    const data = source.create({ size, imageSize, split: 'val' })
    const metric = head.metric()
    for (let start = 0; start < data.length; start += 64) {
      const samples: Sample[] = []
      for (let i = start; i < Math.min(start + 64, data.length); i++) samples.push(await data.get(i))
      scope(() =>
        noGrad(() => metric.add(backbone, { head: s, source, samples, batch: batchToTensors(collate(samples)) })),
      )
    }
    out[source.name] = metric.value()
  }
  return out
}
