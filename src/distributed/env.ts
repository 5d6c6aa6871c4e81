// Who started this process, and as which rank: read from the variables each launcher sets.
// Open MPI's mpirun, slurm's srun and MPICH-style PMI launchers, and torchrun-style
// RANK/WORLD_SIZE/MASTER_ADDR (which also suits a hand-written script or a scheduler without
// MPI). The MPI backend takes its world from MPI itself and checks it against this; NCCL
// takes it from here.

export type Launcher = 'openmpi' | 'pmi' | 'slurm' | 'torchrun' | 'none'

export interface LaunchEnv {
  launcher: Launcher
  rank: number
  worldSize: number
  /** This process's index among the ranks on its machine (picks its GPU). */
  localRank: number
  localWorldSize: number
  /** Where rank 0 listens for the NCCL rendezvous (torchrun-style launches). */
  masterAddr?: string
  masterPort?: number
}

type Env = Record<string, string | undefined>

function int(env: Env, name: string, min: number): number {
  const text = env[name]!
  const v = Number(text)
  if (text.trim() === '' || !Number.isInteger(v) || v < min)
    throw new Error(`distributed: the launcher variable ${name}=${JSON.stringify(text)} is not an integer >= ${min}`)
  return v
}

const optionalInt = (env: Env, name: string, min: number, fallback: number) =>
  env[name] === undefined ? fallback : int(env, name, min)

/** Slurm's tasks-per-node list ("2(x3),1") read for node `nodeId`. */
export function slurmTasksOnNode(spec: string, nodeId: number): number {
  let node = 0
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:\(x(\d+)\))?$/.exec(part.trim())
    if (!m) throw new Error(`distributed: cannot read SLURM_STEP_TASKS_PER_NODE=${JSON.stringify(spec)}`)
    node += m[2] === undefined ? 1 : Number(m[2])
    if (nodeId < node) return Number(m[1])
  }
  throw new Error(`distributed: SLURM_STEP_TASKS_PER_NODE=${JSON.stringify(spec)} has no entry for node ${nodeId}`)
}

function read(env: Env): LaunchEnv {
  const master = {
    masterAddr: env.MASTER_ADDR,
    masterPort: env.MASTER_PORT === undefined ? undefined : int(env, 'MASTER_PORT', 1),
  }
  if (env.OMPI_COMM_WORLD_SIZE !== undefined) {
    const worldSize = int(env, 'OMPI_COMM_WORLD_SIZE', 1)
    return {
      launcher: 'openmpi',
      rank: int(env, 'OMPI_COMM_WORLD_RANK', 0),
      worldSize,
      localRank: optionalInt(env, 'OMPI_COMM_WORLD_LOCAL_RANK', 0, 0),
      localWorldSize: optionalInt(env, 'OMPI_COMM_WORLD_LOCAL_SIZE', 1, worldSize),
      ...master,
    }
  }
  if (env.PMI_SIZE !== undefined && env.PMI_RANK !== undefined) {
    const worldSize = int(env, 'PMI_SIZE', 1)
    return {
      launcher: 'pmi',
      rank: int(env, 'PMI_RANK', 0),
      worldSize,
      localRank: optionalInt(env, 'MPI_LOCALRANKID', 0, 0),
      localWorldSize: optionalInt(env, 'MPI_LOCALNRANKS', 1, worldSize),
      ...master,
    }
  }
  // SLURM_STEP_NUM_TASKS is set for the tasks of an srun step, not in a batch script itself.
  if (env.SLURM_STEP_NUM_TASKS !== undefined && env.SLURM_PROCID !== undefined) {
    const perNode = env.SLURM_STEP_TASKS_PER_NODE
    return {
      launcher: 'slurm',
      rank: int(env, 'SLURM_PROCID', 0),
      worldSize: int(env, 'SLURM_STEP_NUM_TASKS', 1),
      localRank: optionalInt(env, 'SLURM_LOCALID', 0, 0),
      localWorldSize: perNode === undefined ? 1 : slurmTasksOnNode(perNode, optionalInt(env, 'SLURM_NODEID', 0, 0)),
      ...master,
    }
  }
  if (env.WORLD_SIZE !== undefined || env.RANK !== undefined) {
    if (env.WORLD_SIZE === undefined || env.RANK === undefined)
      throw new Error('distributed: RANK and WORLD_SIZE must be set together (torchrun-style launch)')
    const worldSize = int(env, 'WORLD_SIZE', 1)
    return {
      launcher: 'torchrun',
      rank: int(env, 'RANK', 0),
      worldSize,
      localRank: optionalInt(env, 'LOCAL_RANK', 0, 0),
      localWorldSize: optionalInt(env, 'LOCAL_WORLD_SIZE', 1, worldSize),
      ...master,
    }
  }
  return { launcher: 'none', rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1 }
}

/** The launcher's view of this process; throws naming the variable when one is malformed. */
export function launchEnv(env: Env = process.env): LaunchEnv {
  const e = read(env)
  if (e.rank >= e.worldSize)
    throw new Error(`distributed: rank ${e.rank} is not below the world size ${e.worldSize} (${e.launcher} launch)`)
  if (e.localRank >= e.localWorldSize)
    throw new Error(
      `distributed: local rank ${e.localRank} is not below the ranks on this machine, ${e.localWorldSize} (${e.launcher} launch)`,
    )
  return e
}

/** Whether an MPI launcher (mpirun, srun, a PMI launcher) started this process. */
export const launchedByMpi = (e: LaunchEnv): boolean =>
  e.launcher === 'openmpi' || e.launcher === 'pmi' || e.launcher === 'slurm'
