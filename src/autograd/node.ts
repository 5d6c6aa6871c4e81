// One recorded op call: which inputs it came from and how to map the output's gradient to
// theirs. The backward closure holds what the op saved; releasing it frees them.
import { isGradEnabled } from './grad-mode'
import type { GraphHold } from '../tensor/memory'
import type { Tensor } from '../tensor/tensor'

export type BackwardFn = (grad: Tensor) => (Tensor | null | undefined)[]

export class GradNode {
  private fn: BackwardFn | null
  private holds: GraphHold[] = []
  constructor(
    readonly name: string,
    /** The op's tensor inputs, null where an input needs no gradient. */
    readonly inputs: (Tensor | null)[],
    fn: BackwardFn,
  ) {
    this.fn = fn
  }

  get released(): boolean {
    return this.fn === null
  }

  apply(grad: Tensor): (Tensor | null | undefined)[] {
    if (!this.fn)
      throw new Error(
        `backward: the graph through '${this.name}' was already freed by an earlier backward(); ` +
          'pass {retainGraph: true} to the first call to backward twice',
      )
    return this.fn(grad)
  }

  release(): void {
    this.fn = null
  }

  /** Keeps `hold`'s tensors alive until this node lets go of them (dropHolds). */
  hold(hold: GraphHold): void {
    hold.attach()
    this.holds.push(hold)
  }

  dropHolds(): void {
    const holds = this.holds
    this.holds = []
    for (const h of holds) h.detach()
  }
}

/**
 * Attaches a gradient node to `out` when recording is on and any input needs a gradient.
 * `backward` returns one gradient per input (shaped like it), or null to skip it.
 */
export function record(name: string, out: Tensor, inputs: (Tensor | null | undefined)[], backward: BackwardFn): Tensor {
  if (!isGradEnabled()) return out
  // Most calls (inference, frozen inputs) record nothing: find that out without allocating.
  let any = false
  for (let i = 0; i < inputs.length && !any; i++) any = inputs[i]?.requiresGrad === true
  if (!any) return out
  const needs = inputs.map((t) => (t != null && t.requiresGrad ? t : null))
  out.requiresGrad = true
  out.gradFn = new GradNode(name, needs, backward)
  return out
}
