// What a search strategy is: a function from the trials so far to the next genome. Strategies
// keep no state of their own: what they learn (a population, a policy) is rebuilt from the
// history, and their randomness comes from a stream derived for the trial, so a search that
// is killed and rerun proposes exactly what it would have proposed.
import type { Rng } from '../../data/rng'
import type { Genome } from '../space'

export interface Observation {
  genome: Genome
  /** Higher is better. */
  score: number
}

export interface ProposalContext {
  /** Options of each decision. */
  cardinalities: number[]
  /** Trials so far, oldest first. */
  history: Observation[]
  rng: Rng
  /** Whether a genome may be proposed (under the budget, not tried before). */
  feasible(genome: Genome): boolean
  /** The genes that shape the network (mutation and the policy gradient use only these); default all. */
  active?(genome: Genome): number[]
}

export interface Strategy {
  readonly name: string
  propose(ctx: ProposalContext): Genome
}

/** Draws a strategy may make for one proposal before it gives up. */
export const MAX_DRAWS = 10000

/** The first feasible genome `draw` makes; a clear error when none comes. */
export function firstFeasible(ctx: ProposalContext, strategy: string, draw: () => Genome): Genome {
  for (let i = 0; i < MAX_DRAWS; i++) {
    const g = draw()
    if (ctx.feasible(g)) return g
  }
  throw new Error(
    `${strategy}: no feasible genome in ${MAX_DRAWS} draws: the budget is too tight for the space, or every network under it was tried`,
  )
}

export const randomGenome = (cardinalities: number[], rng: Rng): Genome => cardinalities.map((n) => rng.int(0, n))

export const activeGenes = (ctx: Pick<ProposalContext, 'active'>, genome: Genome): number[] =>
  ctx.active ? ctx.active(genome) : genome.map((_, i) => i)
