// Deterministic freeing. Every tensor made inside scope(fn) is disposed when fn returns,
// except what fn returns and what keep() marked; tensors made elsewhere are freed by
// dispose() or, failing that, by the garbage collector.
import type { Tensor } from './tensor'

const scopes: Set<Tensor>[] = []

export function track(t: Tensor): void {
  if (scopes.length) scopes[scopes.length - 1].add(t)
}

/** Takes t out of every enclosing scope, so that it outlives them. Returns t. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t)
  return t
}

function collectReturned(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (value == null || depth > 4 || typeof value !== 'object') return
  if ((value as { isTensor?: boolean }).isTensor === true) {
    out.add(value as Tensor)
    return
  }
  if (Array.isArray(value)) for (const v of value) collectReturned(v, out, depth + 1)
  else if (value instanceof Map) for (const v of value.values()) collectReturned(v, out, depth + 1)
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collectReturned(v, out, depth + 1)
}

/**
 * Runs fn and disposes the tensors it made, except those in its result (found in arrays,
 * Maps and plain objects) and those passed to keep(). Returned tensors move to the
 * enclosing scope. fn must be synchronous.
 */
export function scope<T>(fn: () => T): T {
  const made = new Set<Tensor>()
  scopes.push(made)
  let result: T
  try {
    result = fn()
    if (result instanceof Promise) throw new Error('scope: fn must be synchronous (it returned a Promise)')
  } catch (e) {
    scopes.pop()
    for (const t of made) t.dispose()
    throw e
  }
  scopes.pop()
  const returned = new Set<Tensor>()
  collectReturned(result, returned)
  for (const t of made) if (!returned.has(t)) t.dispose()
  for (const t of returned) if (made.has(t)) track(t)
  return result
}
