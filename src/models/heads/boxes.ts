// Box arithmetic on host arrays, for target assignment and post-processing. Boxes are pixel
// xyxy, 4 numbers per box, with exclusive x2/y2 edges (GV-D's convention), so a box covers
// (x2 - x1) * (y2 - y1) pixels and the continuous formulas are the right ones (no VOC "+1").

/** 4n numbers: x1, y1, x2, y2 of each box. */
export type BoxArray = ArrayLike<number>

/** Checks that `boxes` holds 4n finite numbers with x1 <= x2 and y1 <= y2; returns n. */
export function checkBoxes(fn: string, arg: string, boxes: BoxArray): number {
  if (boxes == null || typeof boxes.length !== 'number' || boxes.length % 4 !== 0)
    throw new Error(
      `${fn}: ${arg} must hold 4 numbers (x1, y1, x2, y2) per box, got ${boxes == null ? boxes : `${boxes.length} numbers`}`,
    )
  const n = boxes.length / 4
  for (let i = 0; i < n; i++) {
    const [x1, y1, x2, y2] = [boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]]
    if (![x1, y1, x2, y2].every(Number.isFinite))
      throw new Error(`${fn}: ${arg} box ${i} is not finite: [${x1}, ${y1}, ${x2}, ${y2}]`)
    if (x2 < x1 || y2 < y1)
      throw new Error(`${fn}: ${arg} box ${i} has x2 < x1 or y2 < y1: [${x1}, ${y1}, ${x2}, ${y2}] (boxes are xyxy)`)
  }
  return n
}

function area(b: BoxArray, i: number): number {
  return (b[4 * i + 2] - b[4 * i]) * (b[4 * i + 3] - b[4 * i + 1])
}

/** Intersection area of box i of a and box j of b. */
function intersection(a: BoxArray, i: number, b: BoxArray, j: number): number {
  const w = Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j])
  const h = Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1])
  return w > 0 && h > 0 ? w * h : 0
}

function iouAt(a: BoxArray, i: number, b: BoxArray, j: number): number {
  const inter = intersection(a, i, b, j)
  const union = area(a, i) + area(b, j) - inter
  return union > 0 ? inter / union : 0
}

/** IoU of every box of a (4n) with every box of b (4m): [n, m] row-major. Empty boxes have IoU 0. */
export function boxIou(a: BoxArray, b: BoxArray): Float64Array {
  const n = checkBoxes('boxIou', 'a', a)
  const m = checkBoxes('boxIou', 'b', b)
  const out = new Float64Array(n * m)
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[i * m + j] = iouAt(a, i, b, j)
  return out
}

/**
 * Generalized IoU (Rezatofighi et al. 2019) of every pair: IoU - (C - U) / C with C the area
 * of the smallest box enclosing both and U their union; in [-1, 1]. [n, m] row-major.
 */
export function generalizedBoxIou(a: BoxArray, b: BoxArray): Float64Array {
  const n = checkBoxes('generalizedBoxIou', 'a', a)
  const m = checkBoxes('generalizedBoxIou', 'b', b)
  const out = new Float64Array(n * m)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const inter = intersection(a, i, b, j)
      const union = area(a, i) + area(b, j) - inter
      const enclosing =
        (Math.max(a[4 * i + 2], b[4 * j + 2]) - Math.min(a[4 * i], b[4 * j])) *
        (Math.max(a[4 * i + 3], b[4 * j + 3]) - Math.min(a[4 * i + 1], b[4 * j + 1]))
      const iou = union > 0 ? inter / union : 0
      out[i * m + j] = enclosing > 0 ? iou - (enclosing - union) / enclosing : iou
    }
  }
  return out
}

/** Indices by descending score; ties keep the lower index first. */
function byScore(scores: ArrayLike<number>, indices: number[]): number[] {
  return indices.sort((i, j) => scores[j] - scores[i] || i - j)
}

function greedy(boxes: BoxArray, scores: ArrayLike<number>, order: number[], iouThreshold: number): number[] {
  const kept: number[] = []
  for (const i of order) if (kept.every((k) => iouAt(boxes, i, boxes, k) <= iouThreshold)) kept.push(i)
  return kept
}

function checkNmsArgs(fn: string, boxes: BoxArray, scores: ArrayLike<number>, iouThreshold: number): number {
  const n = checkBoxes(fn, 'boxes', boxes)
  if (scores == null || scores.length !== n)
    throw new Error(`${fn}: scores must hold one number per box (${n}), got ${scores?.length}`)
  for (let i = 0; i < n; i++) if (Number.isNaN(scores[i])) throw new Error(`${fn}: score ${i} is NaN`)
  if (typeof iouThreshold !== 'number' || !(iouThreshold >= 0 && iouThreshold <= 1))
    throw new Error(`${fn}: iouThreshold must be in [0, 1], got ${iouThreshold}`)
  return n
}

/**
 * Greedy non-maximum suppression (torchvision.ops.nms): visits boxes by descending score and
 * drops every box whose IoU with a kept one exceeds iouThreshold. Returns the kept indices,
 * highest score first.
 */
export function nms(boxes: BoxArray, scores: ArrayLike<number>, iouThreshold: number): Int32Array {
  const n = checkNmsArgs('nms', boxes, scores, iouThreshold)
  return Int32Array.from(greedy(boxes, scores, byScore(scores, [...Array(n).keys()]), iouThreshold))
}

/** NMS within each label only (torchvision.ops.batched_nms): boxes of different labels never suppress each other. */
export function batchedNms(
  boxes: BoxArray,
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  iouThreshold: number,
): Int32Array {
  const n = checkNmsArgs('batchedNms', boxes, scores, iouThreshold)
  if (labels == null || labels.length !== n)
    throw new Error(`batchedNms: labels must hold one label per box (${n}), got ${labels?.length}`)
  const groups = new Map<number, number[]>()
  for (let i = 0; i < n; i++) {
    const g = groups.get(labels[i])
    if (g) g.push(i)
    else groups.set(labels[i], [i])
  }
  const kept: number[] = []
  for (const members of groups.values()) kept.push(...greedy(boxes, scores, byScore(scores, members), iouThreshold))
  return Int32Array.from(byScore(scores, kept))
}
