import { agingEvolution, type EvolutionOptions } from './evolution'
import { randomSearch } from './random'
import { reinforce, type ReinforceOptions } from './reinforce'
import type { Strategy } from './strategy'

export * from './strategy'
export * from './random'
export * from './evolution'
export * from './reinforce'

export const STRATEGY_NAMES = ['random', 'evolution', 'rl'] as const
export type StrategyName = (typeof STRATEGY_NAMES)[number]

/** A strategy by name; the options of the others are ignored. */
export function createStrategy(name: string, options: EvolutionOptions & ReinforceOptions = {}): Strategy {
  if (name === 'random') return randomSearch()
  if (name === 'evolution') return agingEvolution(options)
  if (name === 'rl') return reinforce(options)
  throw new RangeError(`createStrategy: unknown strategy '${name}'; known: ${STRATEGY_NAMES.join(', ')}`)
}
