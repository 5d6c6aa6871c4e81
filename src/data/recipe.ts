// Functions cannot cross into a worker thread, so datasets and transforms that should run in
// DataLoader workers carry a recipe: the module, the export and structured-cloneable arguments
// that rebuild them there. Recipes nest (a subset of a dataset, a composition of transforms).

import type { Recipe } from './types'

const NESTED = '__recipe'

/** Marks a recipe used as an argument of another recipe, so rebuild() revives it. */
export function nested(recipe: Recipe): { [NESTED]: Recipe } {
  return { [NESTED]: recipe }
}

export function rebuild<T>(recipe: Recipe): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(recipe.module) as Record<string, unknown>
  const factory = mod[recipe.exportName]
  if (typeof factory !== 'function') {
    throw new Error(`rebuild: ${recipe.module} has no function export '${recipe.exportName}'`)
  }
  return factory(...recipe.args.map(revive)) as T
}

function revive(arg: unknown): unknown {
  if (Array.isArray(arg)) return arg.map(revive)
  if (arg === null || typeof arg !== 'object' || ArrayBuffer.isView(arg)) return arg
  if (NESTED in arg) return rebuild((arg as Record<string, Recipe>)[NESTED])
  return Object.fromEntries(Object.entries(arg).map(([k, v]) => [k, revive(v)]))
}

/** Attaches a recipe to a function (a transform, a collate) and returns it. */
export function withRecipe<F extends object>(
  fn: F,
  module: string,
  exportName: string,
  args: unknown[],
): F & { recipe: Recipe } {
  return Object.assign(fn, { recipe: { module, exportName, args } })
}
