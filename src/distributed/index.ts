// Data-parallel training across processes and machines, on MPI (CPU tensors) and NCCL (CUDA
// tensors): see docs/distributed.md.
export {
  init,
  destroy,
  isInitialized,
  isAvailable,
  unavailableReason,
  worldInfo,
  allReduce,
  broadcast,
  allGather,
  barrier,
  type InitOptions,
  type WorldInfo,
  type ReduceOp,
} from './process-group'
export { getRank, getWorldSize, isMainProcess } from './rank'
export { DistributedDataParallel, type DistributedDataParallelOptions } from './ddp'
export {
  DistributedSampler,
  DistributedDataLoader,
  type DistributedSamplerOptions,
  type DistributedDataLoaderOptions,
} from './sampler'
export { launchEnv, type LaunchEnv, type Launcher } from './env'
export { DistributedError, type BackendName } from './communicator'
export { mpirunCommand, launchLocal, thisCommand, type MpirunOptions } from './launch'
export { dataParallel, type DataParallel, type DataParallelOptions, type BatchPart } from './data-parallel'
