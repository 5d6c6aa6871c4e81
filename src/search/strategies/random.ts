// Random search: every decision drawn uniformly, the baseline every NAS method must beat.
import { firstFeasible, randomGenome, type Strategy } from './strategy'

export function randomSearch(): Strategy {
  return {
    name: 'random',
    propose: (ctx) => firstFeasible(ctx, 'random search', () => randomGenome(ctx.cardinalities, ctx.rng)),
  }
}
