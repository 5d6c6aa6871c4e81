// The detection losses, composed from the engine's ops so that autograd gives their gradients:
// torchvision's sigmoid_focal_loss and generalized_box_iou_loss, same formulas and defaults.
import { binaryCrossEntropyWithLogits, maximum, minimum, type Reduction } from '../../ops'
import { isFloating } from '../../tensor/dtype'
import { sameShape, shapeStr } from '../../tensor/shape'
import { Tensor } from '../../tensor/tensor'

function reduce(fn: string, loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss
  if (reduction === 'sum') return loss.sum()
  if (reduction === 'mean') return loss.mean()
  throw new Error(`${fn}: reduction must be 'none', 'sum' or 'mean', got '${String(reduction)}'`)
}

function checkPair(fn: string, input: Tensor, target: Tensor): void {
  for (const [t, arg] of [
    [input, 'input'],
    [target, 'target'],
  ] as const) {
    if (!(t instanceof Tensor)) throw new Error(`${fn}: ${arg} must be a Tensor`)
    if (!isFloating(t.dtype)) throw new Error(`${fn}: ${arg} must be floating-point, got ${t.dtype}`)
  }
  if (!sameShape(input.shape, target.shape))
    throw new Error(`${fn}: target ${shapeStr(target.shape)} must have the input's shape ${shapeStr(input.shape)}`)
  if (input.dtype !== target.dtype) throw new Error(`${fn}: input is ${input.dtype} but target is ${target.dtype}`)
}

export interface FocalLossOptions {
  /** Weight of positives (1 - alpha for negatives); negative to disable. Default 0.25. */
  alpha?: number
  /** Focusing exponent on (1 - p_t). Default 2. */
  gamma?: number
  /** Default 'none', as torchvision. */
  reduction?: Reduction
}

/**
 * Focal loss (Lin et al. 2017) on logits against binary targets of the same shape:
 * alpha_t * (1 - p_t)^gamma * BCE(logits, targets), p_t the probability of the true outcome.
 */
export function sigmoidFocalLoss(logits: Tensor, targets: Tensor, opts: FocalLossOptions = {}): Tensor {
  const fn = 'sigmoidFocalLoss'
  checkPair(fn, logits, targets)
  const { alpha = 0.25, gamma = 2, reduction = 'none' } = opts
  if (!Number.isFinite(alpha) || alpha > 1)
    throw new Error(`${fn}: alpha must be at most 1 (negative disables it), got ${alpha}`)
  if (!(gamma >= 0) || !Number.isFinite(gamma))
    throw new Error(`${fn}: gamma must be a non-negative number, got ${gamma}`)
  const p = logits.sigmoid()
  const ce = binaryCrossEntropyWithLogits(logits, targets, { reduction: 'none' })
  // 1 - p_t = p (1 - y) + (1 - p) y
  const miss = p.mul(targets.neg().add(1)).add(p.neg().add(1).mul(targets))
  let loss = gamma === 0 ? ce : ce.mul(miss.pow(gamma))
  if (alpha >= 0) loss = loss.mul(targets.mul(2 * alpha - 1).add(1 - alpha))
  return reduce(fn, loss, reduction)
}

export interface BoxLossOptions {
  /** Default 'none', as torchvision. */
  reduction?: Reduction
  /** Guards the divisions (torchvision's 1e-7). */
  eps?: number
}

/**
 * 1 - GIoU between matching rows of two [..., 4] xyxy box tensors (torchvision's
 * generalized_box_iou_loss). Unlike an IoU loss it still has a gradient for disjoint boxes.
 */
export function generalizedBoxIouLoss(boxes: Tensor, targets: Tensor, opts: BoxLossOptions = {}): Tensor {
  const fn = 'generalizedBoxIouLoss'
  checkPair(fn, boxes, targets)
  if (boxes.ndim < 1 || boxes.shape[boxes.ndim - 1] !== 4)
    throw new Error(`${fn}: boxes must be [..., 4] (x1, y1, x2, y2), got ${shapeStr(boxes.shape)}`)
  const { reduction = 'none', eps = 1e-7 } = opts
  const col = (t: Tensor, i: number): Tensor => t.select(-1, i)
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map((i) => col(boxes, i))
  const [u1, v1, u2, v2] = [0, 1, 2, 3].map((i) => col(targets, i))
  const inter = minimum(x2, u2)
    .sub(maximum(x1, u1))
    .clamp(0)
    .mul(minimum(y2, v2).sub(maximum(y1, v1)).clamp(0))
  const union = x2
    .sub(x1)
    .mul(y2.sub(y1))
    .add(u2.sub(u1).mul(v2.sub(v1)))
    .sub(inter)
  const iou = inter.div(union.add(eps))
  const enclosing = maximum(x2, u2)
    .sub(minimum(x1, u1))
    .mul(maximum(y2, v2).sub(minimum(y1, v1)))
  const giou = iou.sub(enclosing.sub(union).div(enclosing.add(eps)))
  return reduce(fn, giou.neg().add(1), reduction)
}
