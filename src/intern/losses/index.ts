// The Up-A (amateur) losses: DeCLIP's image-text, nearest-neighbour, image-image and text-text
// supervision, each on its own, and their weighted sum.
export { imageTextInfoNCE, clampedScale, LOGIT_SCALE_INIT, LOGIT_SCALE_MAX } from './image-text'
export { simSiamLoss } from './simsiam'
export { simClrLoss } from './simclr'
export { maskedLanguageModelLoss } from './mlm'
export { TextFeatureQueue } from './text-feature-queue'
export { nearestNeighbourLoss } from './nearest-neighbour'
export {
  amateurLoss,
  resolveAmateurWeights,
  AMATEUR_TERMS,
  DEFAULT_AMATEUR_WEIGHTS,
  type AmateurTerm,
  type AmateurWeights,
  type AmateurLossInputs,
  type AmateurLossResult,
} from './amateur'
