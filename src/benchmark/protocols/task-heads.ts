// The head each task type trains on a backbone's output, with its loss and its scoring: a linear
// classifier on the pooled feature, a Detector (FPN + FCOS), a SegmentationHead or a DepthHead on
// the multi-scale maps. The same head serves the frozen-feature probe (inputs from the cache) and
// fine-tuning (inputs from the live backbone), so both protocols score alike.
import { Linear, type Module } from '../../nn'
import { Detector, DepthHead, SegmentationHead, depthLoss, segmentationLoss } from '../../models/heads'
import { crossEntropy } from '../../ops'
import { tensor } from '../../tensor/creation'
import type { Tensor } from '../../tensor/tensor'
import type { ObjectAnnotations } from '../../data/types'
import { depthMetrics, logAverageMissRate, meanAveragePrecision, meanIoU } from '../metrics'
import type { BenchmarkTask, MetricName } from '../tasks'
import { labelsOf, scoreClasses } from './common'
import type { ImageTargets } from './features'

/** Accumulates predictions batch by batch, then gives the task's metric and its extra metrics. */
export interface Scorer {
  add(inputs: Tensor[], targets: ImageTargets[]): void
  result(): { value: number; extra: Record<string, number> }
}

export interface TaskHead {
  module: Module
  /** 'pooled': inputs are [forwardPooled]; 'maps': inputs are forwardFeatures' list. */
  input: 'pooled' | 'maps'
  loss(inputs: Tensor[], targets: ImageTargets[]): Tensor
  scorer(): Scorer
}

/** What the head needs to know of the backbone's outputs. */
export interface BackboneShape {
  pooledDim: number
  featureChannels: number[]
  featureStrides: number[]
}

const stack = <A extends Float32Array | Uint8Array>(maps: A[], make: (n: number) => A): A => {
  const out = make(maps.reduce((n, m) => n + m.length, 0))
  let at = 0
  for (const m of maps) {
    out.set(m, at)
    at += m.length
  }
  return out
}

function pick(extraMetrics: MetricName[], values: Partial<Record<MetricName, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const m of extraMetrics) if (values[m] !== undefined) out[m] = values[m] as number
  return out
}

function classificationHead(task: BenchmarkTask, shape: BackboneShape): TaskHead {
  const module = new Linear(shape.pooledDim, task.numClasses)
  return {
    module,
    input: 'pooled',
    loss: ([x], targets) => crossEntropy(module.forward(x), tensor(labelsOf(task, targets))),
    scorer() {
      const pred: number[] = []
      const target: number[] = []
      return {
        add([x], targets) {
          pred.push(...module.forward(x).argmax(1).data())
          target.push(...labelsOf(task, targets))
        },
        result: () => scoreClasses(task, Int32Array.from(pred), Int32Array.from(target)),
      }
    },
  }
}

function detectionHead(task: BenchmarkTask, shape: BackboneShape): TaskHead {
  const module = new Detector(shape.featureChannels, task.numClasses, { strides: shape.featureStrides })
  const objectsOf = (targets: ImageTargets[]): ObjectAnnotations[] => targets.map((t) => t.objects!)
  return {
    module,
    input: 'maps',
    loss: (maps, targets) => module.loss(maps, objectsOf(targets)).loss,
    scorer() {
      const detections: ReturnType<Detector['predict']> = []
      const truths: ObjectAnnotations[] = []
      return {
        add(maps, targets) {
          detections.push(...module.predict(maps))
          truths.push(...objectsOf(targets))
        },
        result() {
          const values: Partial<Record<MetricName, number>> = {}
          const wanted = new Set([task.metric, ...task.extraMetrics])
          if (wanted.has('map50'))
            values.map50 = meanAveragePrecision(detections, truths, {
              numClasses: task.numClasses,
              iouThreshold: 0.5,
            }).map
          if (wanted.has('mr2'))
            values.mr2 = logAverageMissRate(detections, truths, { iouThreshold: 0.5, reasonable: task.reasonable }).mr2
          return { value: values[task.metric] as number, extra: pick(task.extraMetrics, values) }
        },
      }
    },
  }
}

function segmentationHead(task: BenchmarkTask, shape: BackboneShape): TaskHead {
  const module = new SegmentationHead(shape.featureChannels, task.numClasses)
  const size = [task.imageSize, task.imageSize] as [number, number]
  const targetTensor = (targets: ImageTargets[]) =>
    tensor(
      Int32Array.from(
        stack(
          targets.map((t) => t.segmentation!),
          (n) => new Uint8Array(n),
        ),
      ),
      {
        shape: [targets.length, task.imageSize, task.imageSize],
      },
    )
  return {
    module,
    input: 'maps',
    loss: (maps, targets) => segmentationLoss(module.forward(maps, size), targetTensor(targets), { ignoreIndex: 255 }),
    scorer() {
      const preds: Int32Array[] = []
      const truths: Uint8Array[] = []
      const plane = task.imageSize * task.imageSize
      return {
        add(maps, targets) {
          const pred = module.forward(maps, size).argmax(1).data() as Int32Array
          targets.forEach((t, i) => {
            preds.push(pred.slice(i * plane, (i + 1) * plane))
            truths.push(t.segmentation!)
          })
        },
        result() {
          const miou = meanIoU(preds, truths, task.numClasses, { ignoreIndex: 255 }).miou
          return { value: miou, extra: {} }
        },
      }
    },
  }
}

function depthHead(task: BenchmarkTask, shape: BackboneShape): TaskHead {
  const module = new DepthHead(shape.featureChannels)
  const size = [task.imageSize, task.imageSize] as [number, number]
  const plane = task.imageSize * task.imageSize
  const maps = (targets: ImageTargets[], key: 'depth' | 'depthValid') =>
    key === 'depth'
      ? tensor(
          stack(
            targets.map((t) => t.depth!),
            (n) => new Float32Array(n),
          ),
          { shape: [targets.length, task.imageSize, task.imageSize] },
        )
      : tensor(
          stack(
            targets.map((t) => t.depthValid!),
            (n) => new Uint8Array(n),
          ),
          { shape: [targets.length, task.imageSize, task.imageSize], dtype: 'bool' },
        )
  return {
    module,
    input: 'maps',
    loss: (features, targets) =>
      depthLoss(module.forward(features, size), maps(targets, 'depth'), maps(targets, 'depthValid')),
    scorer() {
      const preds: Float32Array[] = []
      const depths: Float32Array[] = []
      const valids: Uint8Array[] = []
      return {
        add(features, targets) {
          const pred = module.forward(features, size).data() as Float32Array
          targets.forEach((t, i) => {
            preds.push(pred.slice(i * plane, (i + 1) * plane))
            depths.push(t.depth!)
            valids.push(t.depthValid!)
          })
        },
        result() {
          const m = depthMetrics(preds, depths, valids)
          const values: Partial<Record<MetricName, number>> = { rmse: m.rmse, delta1: m.delta1 }
          return { value: values[task.metric] as number, extra: pick(task.extraMetrics, values) }
        },
      }
    },
  }
}

/** The head of `task`'s type for a backbone of this shape (built from the default generator: seed it first). */
export function createTaskHead(task: BenchmarkTask, shape: BackboneShape): TaskHead {
  switch (task.type) {
    case 'classification':
      return classificationHead(task, shape)
    case 'detection':
      return detectionHead(task, shape)
    case 'segmentation':
      return segmentationHead(task, shape)
    case 'depth':
      return depthHead(task, shape)
  }
}
