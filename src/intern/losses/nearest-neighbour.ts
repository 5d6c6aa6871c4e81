// DeCLIP's nearest-neighbour supervision: a caption's nearest neighbour among earlier captions
// usually describes a similar scene, so it serves as one more positive text for the image.
//
// With u_i = f_i / |f_i| the image features, t_i the text features of their captions, Q the
// queue's L2-normalised text features (no gradient) and the clamped scale s of image-text.ts:
//   n_i = Q_k*  with  k* = argmax_k <t_i / |t_i|, Q_k>       (top-1 by cosine, first on ties)
//   logits_ij = s <u_i, n_j>
//   loss = 1/2 [ mean_i CE(logits_i., i) + mean_j CE(logits_.j, j) ]
// i.e. CLIP's symmetric InfoNCE with each caption replaced by its neighbour. Gradients reach the
// image features and the logit scale only: neither the neighbours nor the lookup carry one.
// Look up before enqueueing the batch's own captions (else each caption finds itself). An empty
// queue (the first step) gives 0 with zero gradient.
import type { Tensor } from '../../tensor/tensor'
import { shapeStr } from '../../tensor/shape'
import { checkPaired, checkScalar } from './check'
import { symmetricInfoNCE } from './image-text'
import { TextFeatureQueue } from './text-feature-queue'

export function nearestNeighbourLoss(
  imageFeatures: Tensor,
  textFeatures: Tensor,
  queue: TextFeatureQueue,
  logitScale: Tensor,
): Tensor {
  const fn = 'nearestNeighbourLoss'
  const [img, txt] = checkPaired(fn, { imageFeatures, textFeatures })
  checkScalar(fn, 'logitScale', logitScale, img.dtype)
  if (!(queue instanceof TextFeatureQueue)) throw new Error(`${fn}: queue must be a TextFeatureQueue`)
  if (queue.dim !== txt.shape[1])
    throw new Error(
      `${fn}: textFeatures ${shapeStr(txt.shape)} do not fit a queue of ${queue.dim}-dimensional features`,
    )
  if (queue.size === 0) return img.sum().mul(0)
  return symmetricInfoNCE(img, queue.nearest(txt), logitScale)
}
