// Building blocks shared by the heads.
import { Conv2d, GroupNorm, ReLU, type Module } from '../../nn'

/** The largest divisor of channels up to 32: GroupNorm's usual 32 groups where they fit. */
export function groupsFor(channels: number): number {
  let g = Math.min(32, channels)
  while (channels % g) g--
  return g
}

/** numConvs x (3x3 conv, GroupNorm, ReLU) at a constant width; GroupNorm because dense heads train on small batches. */
export function convGnRelu(channels: number, numConvs: number, conv: () => Conv2d): Module[] {
  const layers: Module[] = []
  for (let i = 0; i < numConvs; i++) layers.push(conv(), new GroupNorm(groupsFor(channels), channels), new ReLU())
  return layers
}
