// A REINFORCE controller (Williams 1992), as in the NAS papers of the MetaNet family: one
// independent softmax policy per decision. After each trial the logits of the genes that shaped
// the network move along advantage * grad log p(genome), the advantage being the score
// standardised by running (exponential) estimates of its mean and spread, so the step size does
// not depend on the score's scale. The policy is replayed from the history at every proposal.
import { activeGenes, firstFeasible, type Observation, type ProposalContext, type Strategy } from './strategy'

export interface ReinforceOptions {
  /** Step size on the logits. Default 0.3. */
  lr?: number
  /** Decay of the running mean and variance of the score (the baseline). Default 0.8. */
  baselineDecay?: number
}

const softmax = (logits: Float64Array): number[] => {
  const m = Math.max(...logits)
  const e = Array.from(logits, (l) => Math.exp(l - m))
  const z = e.reduce((a, b) => a + b, 0)
  return e.map((v) => v / z)
}

/** The policy's logits after learning from `history` in order. */
export function replayPolicy(
  ctx: Pick<ProposalContext, 'cardinalities' | 'active'>,
  history: Observation[],
  options: ReinforceOptions = {},
): Float64Array[] {
  const lr = options.lr ?? 0.3
  const decay = options.baselineDecay ?? 0.8
  const logits = ctx.cardinalities.map((n) => new Float64Array(n))
  let mean = NaN
  let variance = 0
  for (const { genome, score } of history) {
    if (Number.isNaN(mean)) {
      mean = score
      continue
    }
    const advantage = (score - mean) / Math.sqrt(variance + 1e-12)
    if (variance > 0) {
      for (const d of activeGenes(ctx, genome)) {
        const p = softmax(logits[d])
        for (let k = 0; k < p.length; k++) logits[d][k] += lr * advantage * ((k === genome[d] ? 1 : 0) - p[k])
      }
    }
    const delta = score - mean
    mean += (1 - decay) * delta
    variance = decay * (variance + (1 - decay) * delta * delta)
  }
  return logits
}

export function reinforce(options: ReinforceOptions = {}): Strategy {
  const lr = options.lr ?? 0.3
  const decay = options.baselineDecay ?? 0.8
  if (!(lr > 0)) throw new RangeError(`reinforce: lr must be positive, got ${lr}`)
  if (!(decay >= 0 && decay < 1)) throw new RangeError(`reinforce: baselineDecay must be in [0, 1), got ${decay}`)
  return {
    name: 'rl',
    propose(ctx) {
      const probs = replayPolicy(ctx, ctx.history, { lr, baselineDecay: decay }).map(softmax)
      return firstFeasible(ctx, 'REINFORCE', () =>
        probs.map((p) => {
          let u = ctx.rng.next()
          for (let k = 0; k < p.length - 1; k++) if ((u -= p[k]) < 0) return k
          return p.length - 1
        }),
      )
    },
  }
}
