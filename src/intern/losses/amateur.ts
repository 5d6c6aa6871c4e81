// The Up-A objective: DeCLIP's weighted sum of four kinds of supervision, over DeCLIP's
// multi-view batches (V image views x C caption views, 2 x 2 in the stage trainer):
//   clip    = mean over (v, c) of imageTextInfoNCE(image_v, text_c, s)
//   nn      = mean over (v, c) of nearestNeighbourLoss(image_v, text_c, queue, s)
//   simsiam = simSiamLoss(p1, p2, z1, z2), or simClrLoss(z1, z2, T) in its place
//   mlm     = maskedLanguageModelLoss(logits, labels)
//   total   = sum over terms of weight * term   (default weights 0.4, 0.2, 0.2, 0.2)
// A term whose weight is 0 is not computed, and its inputs may be left out.
import type { Tensor } from '../../tensor/tensor'
import { imageTextInfoNCE } from './image-text'
import { maskedLanguageModelLoss } from './mlm'
import { nearestNeighbourLoss } from './nearest-neighbour'
import { simClrLoss } from './simclr'
import { simSiamLoss } from './simsiam'
import type { TextFeatureQueue } from './text-feature-queue'

export const AMATEUR_TERMS = ['clip', 'nn', 'simsiam', 'mlm'] as const
export type AmateurTerm = (typeof AMATEUR_TERMS)[number]
export type AmateurWeights = Record<AmateurTerm, number>

/** DeCLIP's weights (intern-facts.md). */
export const DEFAULT_AMATEUR_WEIGHTS: Readonly<AmateurWeights> = Object.freeze({
  clip: 0.4,
  nn: 0.2,
  simsiam: 0.2,
  mlm: 0.2,
})

export interface AmateurLossInputs {
  /** Projected image features, one [N, D] per image view. */
  imageFeatures?: Tensor[]
  /** Projected text features, one [N, D] per caption view (caption, augmented caption). */
  textFeatures?: Tensor[]
  logitScale?: Tensor
  /** The text memory for the nn term; only read (enqueue the batch afterwards). */
  queue?: TextFeatureQueue
  /** The simsiam term as SimSiam: predictions p and projections z of two views. */
  simsiam?: { p: [Tensor, Tensor]; z: [Tensor, Tensor] }
  /** The simsiam term as SimCLR's NT-Xent on the projections of two views. */
  simclr?: { z: [Tensor, Tensor]; temperature?: number }
  mlm?: { logits: Tensor; labels: Tensor }
}

export interface AmateurLossResult {
  total: Tensor
  /** Each computed term before weighting. */
  terms: Partial<Record<AmateurTerm, Tensor>>
}

/** Default weights overridden by `weights`, checked: known terms, finite, >= 0, not all 0. */
export function resolveAmateurWeights(weights: Partial<AmateurWeights> = {}, fn = 'amateurLoss'): AmateurWeights {
  for (const k of Object.keys(weights))
    if (!(AMATEUR_TERMS as readonly string[]).includes(k))
      throw new Error(`${fn}: unknown loss weight '${k}'; the terms are ${AMATEUR_TERMS.join(', ')}`)
  const w = { ...DEFAULT_AMATEUR_WEIGHTS, ...weights }
  for (const k of AMATEUR_TERMS)
    if (typeof w[k] !== 'number' || !Number.isFinite(w[k]) || w[k] < 0)
      throw new Error(`${fn}: weight '${k}' must be a finite number >= 0, got ${w[k]}`)
  if (AMATEUR_TERMS.every((k) => w[k] === 0)) throw new Error(`${fn}: every loss weight is 0`)
  return w
}

function meanOverPairs(fn: string, inputs: AmateurLossInputs, term: (img: Tensor, txt: Tensor) => Tensor): Tensor {
  const { imageFeatures: images, textFeatures: texts } = inputs
  if (!Array.isArray(images) || images.length === 0)
    throw new Error(`${fn}: imageFeatures must be a non-empty array of [N, D] tensors`)
  if (!Array.isArray(texts) || texts.length === 0)
    throw new Error(`${fn}: textFeatures must be a non-empty array of [N, D] tensors`)
  let sum: Tensor | null = null
  for (const img of images) for (const txt of texts) sum = sum ? sum.add(term(img, txt)) : term(img, txt)
  return (sum as Tensor).div(images.length * texts.length)
}

export function amateurLoss(inputs: AmateurLossInputs, weights: Partial<AmateurWeights> = {}): AmateurLossResult {
  const fn = 'amateurLoss'
  const w = resolveAmateurWeights(weights, fn)
  const need = <T>(value: T | undefined, what: string, term: AmateurTerm): T => {
    if (value === undefined || value === null)
      throw new Error(`${fn}: the ${term} term (weight ${w[term]}) needs ${what}`)
    return value
  }
  const terms: Partial<Record<AmateurTerm, Tensor>> = {}
  if (w.clip > 0) {
    const scale = need(inputs.logitScale, 'logitScale', 'clip')
    terms.clip = meanOverPairs(fn, inputs, (img, txt) => imageTextInfoNCE(img, txt, scale))
  }
  if (w.nn > 0) {
    const scale = need(inputs.logitScale, 'logitScale', 'nn')
    const queue = need(inputs.queue, 'a queue', 'nn')
    terms.nn = meanOverPairs(fn, inputs, (img, txt) => nearestNeighbourLoss(img, txt, queue, scale))
  }
  if (w.simsiam > 0) {
    if (inputs.simsiam && inputs.simclr) throw new Error(`${fn}: give simsiam or simclr inputs, not both`)
    if (inputs.simclr) terms.simsiam = simClrLoss(inputs.simclr.z[0], inputs.simclr.z[1], inputs.simclr.temperature)
    else {
      const { p, z } = need(inputs.simsiam, 'simsiam (or simclr) inputs', 'simsiam')
      terms.simsiam = simSiamLoss(p[0], p[1], z[0], z[1])
    }
  }
  if (w.mlm > 0) {
    const { logits, labels } = need(inputs.mlm, 'mlm logits and labels', 'mlm')
    terms.mlm = maskedLanguageModelLoss(logits, labels)
  }
  let total: Tensor | null = null
  for (const k of AMATEUR_TERMS) {
    const t = terms[k]
    if (t) total = total ? total.add(t.mul(w[k])) : t.mul(w[k])
  }
  return { total: total as Tensor, terms }
}
