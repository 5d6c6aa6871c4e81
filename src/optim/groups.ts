// Parameter groups that exempt norms and biases from weight decay (timm's
// param_groups_weight_decay): those shrink toward zero under decay with no benefit.
import { Tensor } from '../tensor/tensor'

export type NamedParameters = Iterable<readonly [string, Tensor]> | Map<string, Tensor> | Record<string, Tensor>

export interface NoDecayGroups {
  params: Tensor[]
  weightDecay: number
}

/**
 * Splits parameters into [{params: decay, weightDecay}, {params: noDecay, weightDecay: 0}]:
 * 1-d (and 0-d) tensors, names ending in '.bias' and names in skipList go to the second.
 * Parameters with requiresGrad false are left out, as frozen ones take no update.
 */
export function paramGroupsNoDecay(
  named: NamedParameters,
  weightDecay: number,
  skipList: Iterable<string> = [],
): [NoDecayGroups, NoDecayGroups] {
  if (typeof weightDecay !== 'number' || !Number.isFinite(weightDecay) || weightDecay < 0)
    throw new Error(`paramGroupsNoDecay: weightDecay must be a finite number >= 0, got ${String(weightDecay)}`)
  if (named === null || typeof named !== 'object')
    throw new Error('paramGroupsNoDecay: expected named parameters ([name, tensor] pairs, a Map or a record)')
  const entries: Iterable<readonly [string, Tensor]> =
    Symbol.iterator in named
      ? (named as Iterable<readonly [string, Tensor]>)
      : Object.entries(named as Record<string, Tensor>)
  const skip = new Set(skipList)
  const decay: Tensor[] = []
  const noDecay: Tensor[] = []
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || !(entry[1] instanceof Tensor))
      throw new Error(`paramGroupsNoDecay: each entry must be a [name, Tensor] pair, got ${String(entry)}`)
    const [name, p] = entry
    if (!p.requiresGrad) continue
    if (p.ndim <= 1 || name.endsWith('.bias') || name === 'bias' || skip.has(name)) noDecay.push(p)
    else decay.push(p)
  }
  return [
    { params: decay, weightDecay },
    { params: noDecay, weightDecay: 0 },
  ]
}
