// CLIP's symmetric InfoNCE between images and their captions (DeCLIP's image-text term).
//
// With u_i = f_i / |f_i| and v_j = g_j / |g_j| (rows of the image and text features) and the
// temperature s = exp(min(logitScale, log 100)):
//   logits_ij = s <u_i, v_j>
//   loss = 1/2 [ mean_i CE(logits_i., i) + mean_j CE(logits_.j, j) ]
// Image i and caption i are the positive pair; every other caption in the batch is a negative
// (and every other image, in the text-to-image direction).
//
// The clamp is in the forward pass, as CLIP's "clipped to prevent scaling the logits by more
// than 100": it is torch.clamp's, so the gradient reaches logitScale unchanged up to and at
// log 100 and is exactly zero above it. A scale pushed past the bound therefore stops there
// (no gradient pulls it back, and none pushes it further), and the logits keep a factor of 100.
import { arange } from '../../tensor/creation'
import type { Tensor } from '../../tensor/tensor'
import { crossEntropy, normalize } from '../../ops'
import { checkPaired, checkScalar } from './check'

/** CLIP's initial logit scale: log(1 / 0.07), a temperature of 0.07. */
export const LOGIT_SCALE_INIT = Math.log(1 / 0.07)
/** The largest logit scale in use: exp(scale) <= 100. */
export const LOGIT_SCALE_MAX = Math.log(100)

/** exp(min(logitScale, log 100)) as a 0-d tensor: the factor on the cosine logits. */
export function clampedScale(logitScale: Tensor): Tensor {
  return logitScale.reshape([]).clamp(null, LOGIT_SCALE_MAX).exp()
}

/** Symmetric cross-entropy over the scaled cosine logits of row-paired batches a [N, D] and b [N, D]. */
export function symmetricInfoNCE(a: Tensor, b: Tensor, logitScale: Tensor): Tensor {
  const logits = normalize(a, { dim: 1 })
    .matmul(normalize(b, { dim: 1 }).t())
    .mul(clampedScale(logitScale))
  const labels = arange(0, a.shape[0], 1, { dtype: 'int32' })
  return crossEntropy(logits, labels).add(crossEntropy(logits.t(), labels)).div(2)
}

/** CLIP's loss for image features [N, D] and the features of their captions [N, D]. */
export function imageTextInfoNCE(imageFeatures: Tensor, textFeatures: Tensor, logitScale: Tensor): Tensor {
  const fn = 'imageTextInfoNCE'
  const [img, txt] = checkPaired(fn, { imageFeatures, textFeatures })
  checkScalar(fn, 'logitScale', logitScale, img.dtype)
  return symmetricInfoNCE(img, txt, logitScale)
}
