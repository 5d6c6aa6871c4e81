// Reading the launcher's variables, and the mpirun command that --nproc runs.
import t from 'tap'
import * as iv from '../../src'
import { slurmTasksOnNode } from '../../src/distributed/env'

const { launchEnv, mpirunCommand } = iv.distributed

t.test('each launcher', async (t) => {
  t.same(
    launchEnv({}),
    { launcher: 'none', rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1 },
    'no launcher: one process',
  )
  t.same(
    launchEnv({
      OMPI_COMM_WORLD_RANK: '3',
      OMPI_COMM_WORLD_SIZE: '4',
      OMPI_COMM_WORLD_LOCAL_RANK: '1',
      OMPI_COMM_WORLD_LOCAL_SIZE: '2',
    }),
    {
      launcher: 'openmpi',
      rank: 3,
      worldSize: 4,
      localRank: 1,
      localWorldSize: 2,
      masterAddr: undefined,
      masterPort: undefined,
    },
  )
  t.same(launchEnv({ PMI_RANK: '1', PMI_SIZE: '2', MPI_LOCALRANKID: '1', MPI_LOCALNRANKS: '2' }), {
    launcher: 'pmi',
    rank: 1,
    worldSize: 2,
    localRank: 1,
    localWorldSize: 2,
    masterAddr: undefined,
    masterPort: undefined,
  })
  t.same(
    launchEnv({
      SLURM_PROCID: '5',
      SLURM_STEP_NUM_TASKS: '6',
      SLURM_LOCALID: '2',
      SLURM_NODEID: '1',
      SLURM_STEP_TASKS_PER_NODE: '3(x2)',
    }),
    {
      launcher: 'slurm',
      rank: 5,
      worldSize: 6,
      localRank: 2,
      localWorldSize: 3,
      masterAddr: undefined,
      masterPort: undefined,
    },
  )
  t.equal(
    launchEnv({ SLURM_PROCID: '0', SLURM_NTASKS: '8' }).launcher,
    'none',
    'a batch script (no step) is not a launch',
  )
  t.same(
    launchEnv({
      RANK: '1',
      WORLD_SIZE: '2',
      LOCAL_RANK: '0',
      LOCAL_WORLD_SIZE: '1',
      MASTER_ADDR: 'node7',
      MASTER_PORT: '29500',
    }),
    {
      launcher: 'torchrun',
      rank: 1,
      worldSize: 2,
      localRank: 0,
      localWorldSize: 1,
      masterAddr: 'node7',
      masterPort: 29500,
    },
  )
  t.equal(
    launchEnv({ OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '2', RANK: '1', WORLD_SIZE: '2' }).launcher,
    'openmpi',
    'mpirun wins over stray RANK',
  )
})

t.test('malformed variables are named', async (t) => {
  t.throws(() => launchEnv({ RANK: '1' }), /RANK and WORLD_SIZE must be set together/)
  t.throws(() => launchEnv({ RANK: 'one', WORLD_SIZE: '2' }), /RANK="one" is not an integer >= 0/)
  t.throws(() => launchEnv({ RANK: '2', WORLD_SIZE: '2' }), /rank 2 is not below the world size 2 \(torchrun launch\)/)
  t.throws(
    () => launchEnv({ OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '0' }),
    /OMPI_COMM_WORLD_SIZE="0" is not an integer >= 1/,
  )
  t.throws(() => launchEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: 'http' }), /MASTER_PORT="http"/)
  t.throws(
    () => launchEnv({ RANK: '0', WORLD_SIZE: '4', LOCAL_RANK: '2', LOCAL_WORLD_SIZE: '2' }),
    /local rank 2 is not below the ranks on this machine, 2/,
  )
})

t.test("slurm's tasks per node", async (t) => {
  t.equal(slurmTasksOnNode('4', 0), 4)
  t.equal(slurmTasksOnNode('2(x3),1', 2), 2)
  t.equal(slurmTasksOnNode('2(x3),1', 3), 1)
  t.throws(() => slurmTasksOnNode('2(x3),1', 4), /has no entry for node 4/)
  t.throws(() => slurmTasksOnNode('2x3', 0), /cannot read SLURM_STEP_TASKS_PER_NODE="2x3"/)
})

t.test('the mpirun command for --nproc', async (t) => {
  const { file, args } = mpirunCommand(3, ['node', 'train.js', '--epochs', '2'], { mpirunArgs: ['-x', 'FOO'] })
  t.equal(file, 'mpirun')
  t.same(args, ['-np', '3', '--bind-to', 'none', '--oversubscribe', '-x', 'FOO', 'node', 'train.js', '--epochs', '2'])
  t.throws(() => mpirunCommand(0, ['node']), /nproc must be a positive integer, got 0/)
  t.throws(() => mpirunCommand(2, []), /the command is empty/)
  t.same(iv.distributed.thisCommand(['node', 'x.js', '--a']).slice(-2), ['x.js', '--a'])
})
