// Reverse-mode differentiation: a topological walk from the output back to the leaves.
// Intermediate gradients are freed as soon as their node has run, so backward's memory
// peak is the graph's widest cut, not its length.
import { withoutAutocast } from './autocast-mode'
import { noGrad } from './grad-mode'
import type { GradNode } from './node'
import { profilerHooks } from '../backend/profiler-hooks'
import { keep, scope } from '../tensor/memory'
import { shapeStr, sameShape } from '../tensor/shape'
import type { Tensor } from '../tensor/tensor'

/** backward's keyword form, as in PyTorch: `loss.backward({ retainGraph: true })`. */
export interface BackwardOptions {
  /** The gradient of the output (required when it has more than one element). */
  gradient?: Tensor
  /** Keep the graph for another backward through it. */
  retainGraph?: boolean
}

const OPTION_KEYS = new Set(['gradient', 'retainGraph'])

/** Accepts backward(gradient?, options?) and backward(options). */
function backwardArgs(first: unknown, second: unknown): { seed: Tensor | undefined; retainGraph: boolean } {
  const isTensor = (v: unknown): v is Tensor => (v as { isTensor?: unknown } | null)?.isTensor === true
  let opts: unknown = second
  let seed: unknown = first
  if (first != null && !isTensor(first)) {
    if (typeof first !== 'object' || Array.isArray(first))
      throw new Error(
        `backward: expected a gradient Tensor or an options object {gradient, retainGraph}, got ${Array.isArray(first) ? 'an array' : typeof first}`,
      )
    if (second !== undefined)
      throw new Error('backward: pass either (gradient, options) or one options object, not both')
    opts = first
    seed = (first as BackwardOptions).gradient
  }
  if (opts != null && (typeof opts !== 'object' || Array.isArray(opts)))
    throw new Error(`backward: options must be an object {gradient, retainGraph}, got ${typeof opts}`)
  for (const key of Object.keys(opts ?? {})) {
    if (key === 'createGraph') throw new Error('backward: createGraph (higher-order gradients) is not supported')
    if (!OPTION_KEYS.has(key)) throw new Error(`backward: unknown option '${key}' (expected gradient, retainGraph)`)
  }
  if (seed != null && !isTensor(seed)) throw new Error(`backward: the gradient must be a Tensor, got ${typeof seed}`)
  return { seed: seed ?? undefined, retainGraph: Boolean((opts as BackwardOptions | undefined)?.retainGraph) }
}

// A rule runs in its own scope, so its temporaries go at once even when backward runs
// outside any scope. A rule that fails (typically on a tensor it saved and someone disposed)
// names itself, so the failure is never mistaken for a bug in the op that ran it.
function applyNode(node: GradNode, g: Tensor): (Tensor | null | undefined)[] {
  try {
    if (profilerHooks.active) return profilerHooks.backwardNode(node.name, () => scope(() => node.apply(g)))
    return scope(() => node.apply(g))
  } catch (e) {
    const message = (e as Error).message
    if (message.startsWith('backward:')) throw e
    const hint = /disposed/.test(message)
      ? " (a tensor this op saved for backward was disposed before backward(): dispose the graph's tensors after backward, or build the loss in a scope() and return it, which keeps its graph alive)"
      : ''
    throw new Error(`backward: the backward of '${node.name}' failed: ${message}${hint}`)
  }
}

export interface RemovableHandle {
  remove(): void
}

type LeafHook = (leaf: Tensor) => void
const leafHooks = new Map<Tensor, Set<LeafHook>>()
let queued: (() => void)[] | null = null

/**
 * Calls hook(leaf) in each backward pass once leaf.grad holds all of that pass's gradient
 * (PyTorch's register_post_accumulate_grad_hook): DistributedDataParallel starts reducing a
 * gradient there, while backward goes on.
 */
export function registerPostAccumulateGradHook(leaf: Tensor, hook: LeafHook): RemovableHandle {
  if (!leaf.requiresGrad || leaf.gradFn)
    throw new Error(
      `registerPostAccumulateGradHook: only a leaf that requires grad accumulates a gradient, got ${leaf.toString()}`,
    )
  const hooks = leafHooks.get(leaf) ?? new Set<LeafHook>()
  leafHooks.set(leaf, hooks.add(hook))
  return {
    remove: () => {
      hooks.delete(hook)
      if (hooks.size === 0 && leafHooks.get(leaf) === hooks) leafHooks.delete(leaf)
    },
  }
}

/** Runs fn when the backward pass now running has finished (PyTorch's queue_callback). */
export function queueCallback(fn: () => void): void {
  if (!queued) throw new Error('queueCallback: no backward pass is running')
  queued.push(fn)
}

const runLeafHooks = (leaf: Tensor) => leafHooks.get(leaf)?.forEach((hook) => hook(leaf))

/** For each position in the order, the hooked leaves whose gradient is final after it. */
function finalUses(order: Tensor[]): Map<number, Tensor[]> {
  const last = new Map<Tensor, number>()
  order.forEach((t, k) => {
    for (const inp of (t.gradFn as GradNode).inputs) if (inp && !inp.gradFn && leafHooks.has(inp)) last.set(inp, k)
  })
  const byPosition = new Map<number, Tensor[]>()
  for (const [leaf, k] of last) byPosition.set(k, [...(byPosition.get(k) ?? []), leaf])
  return byPosition
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = []
  const seen = new Set<Tensor>()
  const stack: [Tensor, boolean][] = [[root, false]]
  while (stack.length) {
    const [t, done] = stack.pop()!
    if (done) {
      order.push(t)
      continue
    }
    if (seen.has(t)) continue
    seen.add(t)
    stack.push([t, true])
    for (const inp of (t.gradFn as GradNode).inputs) if (inp && inp.gradFn && !seen.has(inp)) stack.push([inp, false])
  }
  return order.reverse()
}

export function backward(root: Tensor, gradient?: Tensor | BackwardOptions, options?: BackwardOptions): void {
  const run = () => withoutAutocast(() => runBackward(root, gradient, options))
  if (profilerHooks.active) profilerHooks.backwardPass(run)
  else run()
}

function runBackward(root: Tensor, gradient?: Tensor | BackwardOptions, options?: BackwardOptions): void {
  const { seed, retainGraph } = backwardArgs(gradient, options)
  root.checkAlive('backward')
  // An implicit seed is the engine's to free; a given one stays the caller's.
  const implicitSeed = seed === undefined && root.requiresGrad && root.numel === 1 ? root.onesLike() : undefined
  const outer = queued
  queued = []
  try {
    backwardPass(root, seed ?? implicitSeed, retainGraph)
    const callbacks = queued
    noGrad(() => {
      for (let i = 0; i < callbacks.length; i++) callbacks[i]()
    })
  } finally {
    queued = outer
    implicitSeed?.dispose()
  }
}

function backwardPass(root: Tensor, seed: Tensor | undefined, retainGraph: boolean): void {
  if (!root.requiresGrad)
    throw new Error(
      'backward: the tensor does not require grad and has no grad_fn (did every input have requiresGrad false, or was it made under noGrad?)',
    )
  if (seed === undefined) {
    if (root.numel !== 1)
      throw new Error(
        `backward: a gradient can be created implicitly only for a single-element output, got shape ${shapeStr(root.shape)}; pass one`,
      )
    seed = root.onesLike()
  } else if (!sameShape(seed.shape, root.shape)) {
    throw new Error(
      `backward: gradient shape ${shapeStr(seed.shape)} does not match the output's ${shapeStr(root.shape)}`,
    )
  }
  const userSeed = seed
  // The caller's seed (and any view of it) stays the caller's: leaves get copies.
  const held = new Set<Tensor>([seed])
  const owned = (g: Tensor) => !held.has(g) && g.storage !== userSeed.storage
  if (!root.gradFn) {
    accumulateLeaf(root, seed, owned, held)
    noGrad(() => runLeafHooks(root))
    return
  }
  const grads = new Map<Tensor, Tensor>([[root, seed]])
  const received = new Set<Tensor>()
  const ran: GradNode[] = []
  noGrad(() => {
    const order = topologicalOrder(root)
    const finished = leafHooks.size ? finalUses(order) : null
    const propagate = (t: Tensor, g: Tensor) => {
      grads.delete(t)
      held.delete(g)
      const node = t.gradFn as GradNode
      if (t.retainsGrad) accumulateLeaf(t, g, () => false, held)
      const inGrads = applyNode(node, g)
      ran.push(node)
      if (!retainGraph) node.release()
      node.inputs.forEach((inp, i) => {
        const gi = inGrads[i]
        if (!inp || !gi) return
        if (!sameShape(gi.shape, inp.shape))
          throw new Error(
            `backward: '${node.name}' returned a gradient of shape ${shapeStr(gi.shape)} for an input of shape ${shapeStr(inp.shape)}`,
          )
        if (inp.gradFn) {
          const prev = grads.get(inp)
          if (prev) {
            grads.set(inp, prev.add(gi))
            held.delete(prev)
            prev.dispose()
            if (!held.has(gi) && gi !== g) gi.dispose()
          } else {
            grads.set(inp, held.has(gi) ? gi.clone() : gi)
          }
          held.add(grads.get(inp)!)
        } else {
          accumulateLeaf(inp, gi, owned, held)
          if (finished) received.add(inp)
        }
      })
      if (!held.has(g) && g !== userSeed) g.dispose()
    }
    order.forEach((t, k) => {
      const g = grads.get(t)
      if (g) propagate(t, g)
      for (const leaf of finished?.get(k) ?? []) if (received.has(leaf)) runLeafHooks(leaf)
    })
  })
  // Only now, with every rule run, may what a scope held for this graph go.
  if (!retainGraph) for (const node of ran) node.dropHolds()
}

// Leaf gradients accumulate in place into a contiguous tensor the leaf owns.
function accumulateLeaf(leaf: Tensor, g: Tensor, owned: (g: Tensor) => boolean, held: Set<Tensor>): void {
  if (leaf.grad && !leaf.grad.storage.disposed) {
    leaf.grad.addInPlace(g)
    return
  }
  const adopt = owned(g) && g.isContiguous() && g.offset === 0 && g.dtype === leaf.dtype
  const own = adopt ? g : g.to(leaf.dtype).clone()
  held.add(own)
  leaf.grad = keep(own)
}
