// Dropout (per element) and DropPath (stochastic depth: per sample, for residual branches).
import { rand } from '../../tensor/creation'
import type { Generator } from '../../tensor/random'
import { Tensor } from '../../tensor/tensor'
import { dropout } from '../../ops'
import { Module } from '../module'
import { checkProbability } from './check'

/** Zeroes each element with probability p in training, scaling the rest by 1/(1-p). */
export class Dropout extends Module {
  readonly p: number

  constructor(p = 0.5) {
    super()
    this.p = checkProbability('Dropout', 'p', p)
  }

  override forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training)
  }

  override extraRepr(): string {
    return `p=${this.p}`
  }
}

/**
 * Stochastic depth (timm's drop_path): in training, zeroes the whole of each sample (dim 0)
 * with probability p, scaling kept samples by 1/(1-p) when scaleByKeep. Identity in eval.
 */
export function dropPath(x: Tensor, p: number, training: boolean, scaleByKeep = true, generator?: Generator): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`dropPath: argument 'input' must be a Tensor`)
  checkProbability('dropPath', 'p', p)
  if (p === 0 || !training) return x
  if (x.ndim === 0) throw new Error('dropPath: expected an input with a batch dim, got a 0-d tensor')
  const keepProb = 1 - p
  const u = rand([x.shape[0], ...new Array<number>(x.ndim - 1).fill(1)], {
    dtype: x.dtype,
    device: x.device,
    generator,
  })
  const kept = u.lt(keepProb)
  let mask = kept.to(x.dtype)
  u.dispose()
  kept.dispose()
  if (scaleByKeep && keepProb > 0) {
    const scaled = mask.div(keepProb)
    mask.dispose()
    mask = scaled
  }
  return x.mul(mask)
}

export class DropPath extends Module {
  readonly p: number
  readonly scaleByKeep: boolean

  constructor(p = 0, opts: { scaleByKeep?: boolean } = {}) {
    super()
    this.p = checkProbability('DropPath', 'p', p)
    this.scaleByKeep = opts.scaleByKeep ?? true
  }

  override forward(x: Tensor): Tensor {
    return dropPath(x, this.p, this.training, this.scaleByKeep)
  }

  override extraRepr(): string {
    return `p=${this.p}`
  }
}
