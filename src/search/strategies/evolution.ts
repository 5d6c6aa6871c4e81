// Regularised (aging) evolution (Real et al., AAAI 2019): the population is the most recent
// `population` trials; a child is a one-gene mutation of the best of `sampleSize` members drawn
// at random. Old members die whatever their score, which keeps lucky evaluations from ruling
// the search. Until the population is full, proposals are random.
import { activeGenes, firstFeasible, randomGenome, type Strategy } from './strategy'

export interface EvolutionOptions {
  /** Default 8. */
  population?: number
  /** Members drawn for each tournament. Default 3. */
  sampleSize?: number
}

export function agingEvolution(options: EvolutionOptions = {}): Strategy {
  const population = options.population ?? 8
  const sampleSize = options.sampleSize ?? 3
  if (!Number.isInteger(population) || population < 2)
    throw new RangeError(`agingEvolution: population must be an integer >= 2, got ${population}`)
  if (!Number.isInteger(sampleSize) || sampleSize < 1 || sampleSize > population)
    throw new RangeError(
      `agingEvolution: sampleSize must be an integer in [1, population = ${population}], got ${sampleSize}`,
    )
  return {
    name: 'evolution',
    propose(ctx) {
      const { history, rng, cardinalities } = ctx
      if (history.length < population)
        return firstFeasible(ctx, 'aging evolution', () => randomGenome(cardinalities, rng))
      const alive = history.slice(-population)
      return firstFeasible(ctx, 'aging evolution', () => {
        let parent = alive[rng.int(0, alive.length)]
        for (let k = 1; k < sampleSize; k++) {
          const other = alive[rng.int(0, alive.length)]
          if (other.score > parent.score) parent = other
        }
        const child = [...parent.genome]
        const mutable = activeGenes(ctx, child).filter((i) => cardinalities[i] > 1)
        if (mutable.length === 0) return child
        const gene = mutable[rng.int(0, mutable.length)]
        // A different option, uniformly among the others.
        child[gene] = (child[gene] + rng.int(1, cardinalities[gene])) % cardinalities[gene]
        return child
      })
    },
  }
}
