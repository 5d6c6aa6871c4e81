// GV-B metrics: pure functions on host arrays, each checked against hand-worked cases and
// scikit-learn or an independent reference (scripts/fixtures/metrics.py).
export { accuracy, confusionMatrix, perClassAccuracy, meanPerClassAccuracy } from './classification'
export {
  meanAveragePrecision,
  vocAveragePrecision,
  boxIoU,
  type Detections,
  type GroundTruth,
  type DetectionOptions,
  type MeanAveragePrecision,
} from './detection'
export { logAverageMissRate, type MissRateOptions, type LogAverageMissRate } from './miss-rate'
export { meanIoU, pixelAccuracy, type SegmentationOptions, type MeanIoU } from './segmentation'
export { depthMetrics, type DepthMetrics } from './depth'
export type { Values, PooledValues } from './check'
