// GV-B, the benchmark: tasks, metrics, the protocols, the runner, the results schema and the report.
export * from './tasks'
export * from './metrics'
export * from './results'
export * from './report'
export * from './protocols'
export * from './run'
