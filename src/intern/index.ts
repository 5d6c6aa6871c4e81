export * from './stage-io'
export { Transfer, TransferSet, isStagedBackbone, transferStages, type StagedBackbone } from './transfer'
export {
  BalancedBatches,
  ClassifierHeads,
  DetectionHeads,
  SegmentationHeads,
  createTaskHead,
  toSourceBatches,
  type Metric,
  type RawSourceBatch,
  type SourceBatch,
  type StepLoss,
  type TaskHead,
} from './objectives'
export { ExpertModel, evaluateExpert, loadExpert, trainExpert, type ExpertOptions } from './expert'
export {
  Generalist,
  GeneralistModel,
  createGeneralistModel,
  loadGeneralist,
  loadUpstreamBackbone,
  trainGeneralist,
  type GeneralistOptions,
} from './generalist'
export { PRESETS, getPreset, type Preset, type StagePreset } from './presets'
export * from './losses'
export {
  AMATEUR_WEIGHT_DECAY,
  SIMCLR_TEMPERATURE,
  amateurStep,
  evaluateAmateur,
  loadAmateur,
  trainAmateur,
  type AmateurOptions,
} from './amateur'
export { AmateurModel, DEFAULT_MODEL_SHAPE, type AmateurModelConfig } from './amateur-model'
export { amateurViews, captionTokenizer, defaultImageTextSources, imageTextDataset } from './amateur-data'
export { readStageLog, StageLog, type LogRecord } from './stage-log'
export {
  downA,
  featureViews,
  selectView,
  stratifiedFolds,
  type DownAOptions,
  type DownASelection,
  type FeatureView,
} from './adaptation'
export {
  baselineSteps,
  getPipelinePreset,
  METHODS,
  PIPELINE_PRESETS,
  runPipeline,
  type PipelinePreset,
  type RunPipelineOptions,
} from './pipeline'
