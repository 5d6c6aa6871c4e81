// Reverse-mode differentiation: a topological walk from the output back to the leaves.
// Intermediate gradients are freed as soon as their node has run, so backward's memory
// peak is the graph's widest cut, not its length.
import { noGrad } from './grad-mode'
import type { GradNode } from './node'
import { keep } from '../tensor/memory'
import { shapeStr, sameShape } from '../tensor/shape'
import type { Tensor } from '../tensor/tensor'

export interface BackwardOptions {
  retainGraph?: boolean
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

export function backward(root: Tensor, seed: Tensor | undefined, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad)
    throw new Error('backward: the tensor does not require grad and has no grad_fn (did every input have requiresGrad false, or was it made under noGrad?)')
  if (seed === undefined) {
    if (root.numel !== 1)
      throw new Error(`backward: a gradient can be created implicitly only for a single-element output, got shape ${shapeStr(root.shape)}; pass one`)
    seed = root.onesLike()
  } else if (!sameShape(seed.shape, root.shape)) {
    throw new Error(`backward: gradient shape ${shapeStr(seed.shape)} does not match the output's ${shapeStr(root.shape)}`)
  }
  const userSeed = seed
  // The caller's seed (and any view of it) stays the caller's: leaves get copies.
  const held = new Set<Tensor>([seed])
  const owned = (g: Tensor) => !held.has(g) && g.storage !== userSeed.storage
  if (!root.gradFn) {
    accumulateLeaf(root, seed, owned, held)
    return
  }
  const grads = new Map<Tensor, Tensor>([[root, seed]])
  noGrad(() => {
    for (const t of topologicalOrder(root)) {
      const g = grads.get(t)
      if (!g) continue
      grads.delete(t)
      held.delete(g)
      const node = t.gradFn as GradNode
      if (t.retainsGrad) accumulateLeaf(t, g, () => false, held)
      const inGrads = node.apply(g)
      if (!opts.retainGraph) node.release()
      node.inputs.forEach((inp, i) => {
        const gi = inGrads[i]
        if (!inp || !gi) return
        if (!sameShape(gi.shape, inp.shape))
          throw new Error(`backward: '${node.name}' returned a gradient of shape ${shapeStr(gi.shape)} for an input of shape ${shapeStr(inp.shape)}`)
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
        }
      })
      if (!held.has(g) && g !== userSeed) g.dispose()
    }
  })
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
