// SimCLR's NT-Xent (Chen et al., 2020), the contrastive alternative to SimSiam for the
// image-image term. The 2N projections of two views, u = normalise(cat(z1, z2)), are scored
// against each other by cosine / temperature; each row's positive is the other view of its
// image, its negatives the 2N - 2 other rows, and it never scores against itself:
//   logits_ab = <u_a, u_b> / T  (a != b),   loss = mean_a CE(logits_a., partner(a))
// with partner(i) = i + N and partner(i + N) = i.
import { eye, tensor } from '../../tensor/creation'
import type { Tensor } from '../../tensor/tensor'
import { cat, crossEntropy, normalize, where } from '../../ops'
import { checkPaired } from './check'

export function simClrLoss(z1: Tensor, z2: Tensor, temperature = 0.1): Tensor {
  const fn = 'simClrLoss'
  checkPaired(fn, { z1, z2 })
  if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature))
    throw new Error(`${fn}: temperature must be a finite number > 0, got ${temperature}`)
  const N = z1.shape[0]
  const u = normalize(cat([z1, z2], 0), { dim: 1 })
  const self = eye(2 * N, 2 * N, { dtype: 'bool' })
  const logits = where(self, -Infinity, u.matmul(u.t()).div(temperature))
  const partner = tensor(
    Int32Array.from({ length: 2 * N }, (_, a) => (a + N) % (2 * N)),
    { shape: [2 * N] },
  )
  return crossEntropy(logits, partner)
}
