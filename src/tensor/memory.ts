// Deterministic freeing. Every tensor made inside scope(fn) is disposed when fn returns,
// except what fn returns and what keep() marked; tensors made elsewhere are freed by
// dispose() or, failing that, by the garbage collector.
import type { Tensor } from './tensor'

const scopes: Set<Tensor>[] = []

/**
 * Tensors that scope() would have disposed but a returned tensor's graph may still need (a
 * backward closure can hold any of them). Shared by every returned root; disposed when the
 * last root lets go: its graph ran backward, or the root itself was disposed.
 */
export class GraphHold {
  private roots = 0
  constructor(private readonly tensors: Tensor[]) {}
  attach(): void {
    this.roots++
  }
  detach(): void {
    if (--this.roots === 0) for (const t of this.tensors) t.dispose()
  }
}

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
  else if (isPlainObject(value)) for (const v of Object.values(value)) collectReturned(v, out, depth + 1)
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Runs fn and disposes the tensors it made, except those in its result (found in arrays,
 * Maps and plain objects, prototype-free ones included) and those passed to keep(). Returned
 * tensors move to the enclosing scope. A returned tensor made here whose graph can still run
 * backward keeps the rest alive until that backward (or its disposal), since its backward
 * rules may need any of them: so `scope(() => loss).backward()` reaches every parameter.
 * fn must be synchronous.
 */
export function scope<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new Error(`scope: expected a function, got ${fn === null ? 'null' : typeof fn}`)
  if (isAsync(fn)) throw new Error(ASYNC_MESSAGE)
  const made = new Set<Tensor>()
  scopes.push(made)
  let result: T
  try {
    result = fn()
    if (isThenable(result)) {
      // Too late to stop the body; at least its failure must not kill the process later.
      result.then(undefined, () => undefined)
      throw new Error(ASYNC_MESSAGE)
    }
  } catch (e) {
    scopes.pop()
    for (const t of made) t.dispose()
    throw e
  }
  scopes.pop()
  const returned = new Set<Tensor>()
  collectReturned(result, returned)
  const roots = [...returned].filter((t) => made.has(t) && t.gradFn && !t.gradFn.released)
  if (roots.length === 0) {
    for (const t of made) if (!returned.has(t)) t.dispose()
  } else {
    const hold = new GraphHold([...made].filter((t) => !returned.has(t)))
    for (const t of roots) t.gradFn!.hold(hold)
  }
  for (const t of returned) if (made.has(t)) track(t)
  return result
}

const ASYNC_MESSAGE =
  'scope: fn must be synchronous (an async body would run on after the scope freed its tensors); ' +
  'use scope() inside the async code, around each synchronous step'

function isAsync(fn: (...args: never[]) => unknown): boolean {
  const kind = fn.constructor?.name
  return kind === 'AsyncFunction' || kind === 'AsyncGeneratorFunction'
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  )
}
