export { fit, type FitOptions, type FitResult, type StepOutput } from './fit'
export { Progress, formatDuration, type ProgressOptions } from './progress'
