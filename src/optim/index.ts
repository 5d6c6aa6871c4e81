export { Optimizer } from './optimizer'
export type { OptimizerStateDict, ParamGroup, ParamGroupSpec, ParamState, ParamsArg, StateSpec } from './optimizer'
export { SGD, type SGDOptions } from './sgd'
export { Adam, AdamW, type AdamOptions } from './adam'
export { LARS, type LARSOptions } from './lars'
export { paramGroupsNoDecay, type NamedParameters, type NoDecayGroups } from './groups'
export { clipGradNorm_, type ClipOptions } from './clip'
export { ExponentialMovingAverage, type EmaOptions, type EmaSource, type EmaStateDict } from './ema'
export {
  LRScheduler,
  constantSchedule,
  cosineSchedule,
  stepSchedule,
  multiStepSchedule,
  polySchedule,
  withLinearWarmup,
  warmupCosineSchedule,
  type Schedule,
  type LrGroups,
  type LRSchedulerStateDict,
} from './schedules'
