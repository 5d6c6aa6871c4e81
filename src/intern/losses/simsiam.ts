// SimSiam's loss (Chen & He, 2021), DeCLIP's image-image term: for two augmented views with
// projections z1, z2 and predictions p1, p2 (rows paired by image),
//   loss = -1/2 [ mean_i cos(p1_i, sg(z2_i)) + mean_i cos(p2_i, sg(z1_i)) ]
// where sg is stop-gradient (detach): z1 and z2 get no gradient from this loss, which is what
// keeps SimSiam from collapsing without negatives. Ranges over [-1, 1]; -1 is perfect agreement.
import type { Tensor } from '../../tensor/tensor'
import { cosineSimilarity } from '../../ops'
import { checkPaired } from './check'

export function simSiamLoss(p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor): Tensor {
  checkPaired('simSiamLoss', { p1, p2, z1, z2 })
  const agree1 = cosineSimilarity(p1, z2.detach(), { dim: 1 }).mean()
  const agree2 = cosineSimilarity(p2, z1.detach(), { dim: 1 }).mean()
  return agree1.add(agree2).mul(-0.5)
}
