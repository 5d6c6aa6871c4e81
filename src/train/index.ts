export { fit, type FitOptions, type FitResult, type Precision, type StepOutput } from './fit'
export { Progress, formatDuration, type ProgressOptions } from './progress'
