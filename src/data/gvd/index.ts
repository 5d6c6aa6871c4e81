// GV-D at this machine's scale: the split policy, the upstream sources and the benchmark's data.
export * from './policy'
export { PolicyWorld, type PolicyWorldOptions } from './policy-world'
export * from './upstream'
export * from './downstream'
