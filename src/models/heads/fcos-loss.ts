// The FCOS loss: sigmoid focal loss over every non-ignored location and class, GIoU loss on
// the boxes of positive locations and binary cross-entropy on their centerness, each summed
// and divided by the number of positives in the batch (at least 1), as FCOS does.
import { binaryCrossEntropyWithLogits, cat, indexSelect } from '../../ops'
import { tensor } from '../../tensor/creation'
import type { Tensor } from '../../tensor/tensor'
import { outputLevels, type FCOSOutputs } from './fcos'
import type { FCOSTargets } from './fcos-targets'
import { generalizedBoxIouLoss, sigmoidFocalLoss } from './losses'

export interface FCOSLossOptions {
  /** The classification branch (source vocabulary) of every image, or one per image. Default 0. */
  branch?: number | ArrayLike<number>
  /** Focal loss alpha and gamma. Defaults 0.25 and 2. */
  alpha?: number
  gamma?: number
}

export interface FCOSLoss {
  /** classification + box + centerness. */
  loss: Tensor
  classification: Tensor
  box: Tensor
  centerness: Tensor
  numPositives: number
}

/** Per-level maps [N, C, H_l, W_l] -> [N, P, C], locations in fcosPoints order. */
export function flattenLevels(maps: Tensor[]): Tensor {
  return cat(
    maps.map((m) => m.permute(0, 2, 3, 1).reshape(m.shape[0], m.shape[2] * m.shape[3], m.shape[1])),
    1,
  )
}

function branchesOf(fn: string, branch: number | ArrayLike<number>, N: number, branches: number): Int32Array {
  const values: number[] = typeof branch === 'number' ? new Array(N).fill(branch) : Array.from(branch ?? [])
  if (values.length !== N)
    throw new Error(`${fn}: branch must be one number or one per image (${N}), got ${values.length} values`)
  values.forEach((b, i) => {
    if (!Number.isInteger(b) || b < 0 || b >= branches)
      throw new Error(`${fn}: branch of image ${i} must be an integer in [0, ${branches}), got ${b}`)
  })
  return Int32Array.from(values)
}

export function fcosLoss(outputs: FCOSOutputs, targets: FCOSTargets, opts: FCOSLossOptions = {}): FCOSLoss {
  const fn = 'fcosLoss'
  const levels = outputLevels(fn, outputs)
  const reg = outputs.boxRegression
  const N = reg[0].shape[0]
  const P = levels.reduce((s, l) => s + l.height * l.width, 0)
  if (
    targets.labels.length !== N * P ||
    targets.boxes.length !== 4 * N * P ||
    targets.ignore.length !== N * P ||
    targets.centerness.length !== N * P
  )
    throw new Error(
      `${fn}: targets cover ${targets.labels.length} locations but the outputs have ${N} images x ${P} locations`,
    )
  const perImage = branchesOf(fn, opts.branch ?? 0, N, outputs.classLogits.length)
  const like = reg[0]
  const { dtype, device } = like
  const host = (data: Float32Array | Float64Array | Int32Array, shape: number[], dt = dtype) =>
    tensor(data, { shape, dtype: dt, device })
  const norm = Math.max(targets.numPositives, 1)

  const terms: Tensor[] = []
  outputs.classLogits.forEach((levels, b) => {
    const images = [...perImage.keys()].filter((i) => perImage[i] === b)
    if (images.length === 0) return
    const C = levels[0].shape[1]
    const all = flattenLevels(levels)
    const logits =
      images.length === N ? all : indexSelect(all, 0, host(Int32Array.from(images), [images.length], 'int32'))
    const onehot = new Float64Array(images.length * P * C)
    const keepMask = new Float64Array(images.length * P).fill(1)
    images.forEach((img, k) => {
      for (let p = 0; p < P; p++) {
        const label = targets.labels[img * P + p]
        if (label >= C) throw new Error(`${fn}: image ${img} has label ${label} but its branch ${b} has ${C} classes`)
        if (label >= 0) onehot[(k * P + p) * C + label] = 1
        if (targets.ignore[img * P + p]) keepMask[k * P + p] = 0
      }
    })
    const focal = sigmoidFocalLoss(logits, host(onehot, [images.length, P, C]), {
      alpha: opts.alpha,
      gamma: opts.gamma,
    })
    terms.push(focal.mul(host(keepMask, [images.length, P, 1])).sum())
  })
  const classification = terms.reduce((a, b) => a.add(b))

  const positives = Int32Array.from([...targets.labels.keys()].filter((p) => targets.labels[p] >= 0))
  let box: Tensor
  let centerness: Tensor
  if (positives.length === 0) {
    box = host(new Float64Array(1), [])
    centerness = host(new Float64Array(1), [])
  } else {
    const index = host(positives, [positives.length], 'int32')
    // Boxes relative to their location: (-l, -t, r, b), so GIoU needs no point coordinates.
    const signs = host(Float64Array.of(-1, -1, 1, 1), [4])
    const predicted = indexSelect(flattenLevels(reg).reshape(N * P, 4), 0, index).mul(signs)
    const wanted = indexSelect(host(targets.boxes, [N * P, 4]), 0, index).mul(signs)
    box = generalizedBoxIouLoss(predicted, wanted, { reduction: 'sum' })
    const ctr = indexSelect(flattenLevels(outputs.centerness).reshape(N * P), 0, index)
    centerness = binaryCrossEntropyWithLogits(ctr, indexSelect(host(targets.centerness, [N * P]), 0, index), {
      reduction: 'sum',
    })
  }
  const parts = { classification: classification.div(norm), box: box.div(norm), centerness: centerness.div(norm) }
  return {
    loss: parts.classification.add(parts.box).add(parts.centerness),
    ...parts,
    numPositives: targets.numPositives,
  }
}
