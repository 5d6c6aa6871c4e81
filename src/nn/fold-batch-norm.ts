// Folding BatchNorm into the convolution before it, for inference. In eval mode
// bn(conv(x)) = conv'(x) with W'_c = s_c W_c and b'_c = s_c (b_c - mean_c) + beta_c, where
// s_c = gamma_c / sqrt(var_c + eps): the normalisation then costs nothing. Whatever the conv's
// padding or groups, the identity is exact; only the rounding of W' differs (tested).
import { noGrad } from '../autograd/grad-mode'
import { tensor } from '../tensor/creation'
import { Sequential } from './layers/container'
import { Conv2d } from './layers/conv'
import { BatchNorm2d } from './layers/norm'
import type { Module } from './module'
import { Parameter } from './parameter'

/** A module whose forward applies some of its named Conv2d children straight into named
 * BatchNorm2d children (ResNet's conv1 -> bn1) says so, so that foldBatchNorm finds them. */
export interface ConvBatchNormPairs {
  convBatchNormPairs(): [conv: string, norm: string][]
}

const hasPairs = (m: Module): m is Module & ConvBatchNormPairs =>
  typeof (m as Partial<ConvBatchNormPairs>).convBatchNormPairs === 'function'

/** Writes bn's eval-mode affine map into conv's weight and bias. */
export function foldConvBatchNorm(conv: Conv2d, bn: BatchNorm2d, name = 'conv'): void {
  const fn = 'foldBatchNorm'
  if (bn.training) throw new Error(`${fn}: ${name}'s BatchNorm is in training mode; call model.eval() first`)
  if (!bn.running_mean || !bn.running_var)
    throw new Error(`${fn}: ${name}'s BatchNorm keeps no running statistics (trackRunningStats false): nothing to fold`)
  if (bn.numFeatures !== conv.outChannels)
    throw new Error(`${fn}: ${name} has ${conv.outChannels} output channels but its BatchNorm ${bn.numFeatures}`)
  const mean = bn.running_mean.to('float64').data()
  const variance = bn.running_var.to('float64').data()
  const gamma = bn.weight?.to('float64').data()
  const beta = bn.bias?.to('float64').data()
  const bias = conv.bias?.to('float64').data()
  const K = conv.outChannels
  const scale = Float64Array.from({ length: K }, (_, c) => (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + bn.eps))
  const shift = Float64Array.from(
    { length: K },
    (_, c) => ((bias ? bias[c] : 0) - mean[c]) * scale[c] + (beta ? beta[c] : 0),
  )
  noGrad(() => {
    const w = conv.weight
    const s = tensor(scale).reshape([K, 1, 1, 1]).to(w.device)
    w.copy_(w.to('float64').mul(s))
    const b = tensor(shift).to(w.dtype).to(w.device)
    if (conv.bias) conv.bias.copy_(b)
    else conv.registerParameter('bias', new Parameter(b))
  })
  bn.foldedInto = name
}

/**
 * Folds every BatchNorm2d that directly follows a Conv2d into it, in place, for inference:
 * adjacent children of a Sequential, and the pairs a module lists (ConvBatchNormPairs). The
 * model must be in eval mode; the folded norms pass their input through and refuse to train.
 * Returns the folded convs' names. The state dict changes accordingly (convs gain biases).
 */
export function foldBatchNorm(model: Module): string[] {
  const folded: string[] = []
  const fold = (conv: Module | undefined, bn: Module | undefined, name: string) => {
    if (!(conv instanceof Conv2d) || !(bn instanceof BatchNorm2d) || bn.foldedInto !== null) return
    foldConvBatchNorm(conv, bn, name)
    folded.push(name)
  }
  for (const [prefix, m] of model.namedModules()) {
    const at = (child: string) => (prefix ? `${prefix}.${child}` : child)
    if (m instanceof Sequential) {
      const kids = m.namedChildren()
      for (let i = 0; i + 1 < kids.length; i++) fold(kids[i][1], kids[i + 1][1], at(kids[i][0]))
    }
    if (hasPairs(m)) {
      const kids = new Map(m.namedChildren())
      for (const [c, b] of m.convBatchNormPairs()) fold(kids.get(c), kids.get(b), at(c))
    }
  }
  return folded
}
