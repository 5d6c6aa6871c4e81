// Dense-prediction heads over multi-scale feature maps (Backbone.forwardFeatures): an FPN neck,
// the FCOS detector, and segmentation and depth heads, with their losses and box arithmetic.
export { boxIou, generalizedBoxIou, nms, batchedNms, checkBoxes, type BoxArray } from './boxes'
export { sigmoidFocalLoss, generalizedBoxIouLoss, type FocalLossOptions, type BoxLossOptions } from './losses'
export { FPN, type FPNOptions } from './fpn'
export { FCOSHead, fcosPoints, outputLevels, type FCOSHeadOptions, type FCOSOutputs, type FeatureLevel } from './fcos'
export {
  fcosTargets,
  fcosBatchTargets,
  defaultRanges,
  type FCOSTargetOptions,
  type FCOSTargets,
  type ImageObjects,
} from './fcos-targets'
export { fcosLoss, flattenLevels, type FCOSLoss, type FCOSLossOptions } from './fcos-loss'
export { fcosDecode, type Detections, type FCOSDecodeOptions } from './fcos-decode'
export { Detector, imageObjects, type DetectorOptions, type DetectorLossOptions, type BatchObjects } from './detector'
export { DenseDecoder, type DenseDecoderOptions } from './decoder'
export {
  SegmentationHead,
  segmentationLoss,
  type SegmentationHeadOptions,
  type SegmentationLossOptions,
} from './segmentation'
export { DepthHead, depthLoss, type DepthHeadOptions } from './depth'
