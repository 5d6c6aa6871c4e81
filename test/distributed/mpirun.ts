// Runs test/distributed/worker.ts as N ranks: under mpirun (through the library's own
// mpirunCommand), or torchrun-style (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) for NCCL;
// and says why not where MPI is missing.
import { spawn, spawnSync } from 'node:child_process'
import * as net from 'node:net'
import * as path from 'node:path'
import * as iv from '../../src'

const worker = path.join(__dirname, 'worker.ts')

/** Why the MPI tests cannot run here, or false when they can. */
export function mpiSkipReason(): string | false {
  if (!iv.distributed.isAvailable('mpi'))
    return `the MPI backend is not available: ${iv.distributed.unavailableReason('mpi')}`
  if (spawnSync('mpirun', ['--version']).error) return 'mpirun is not on PATH (apt-get install openmpi-bin)'
  return false
}

export interface RanksResult {
  status: number | null
  signal: NodeJS.Signals | null
  output: string
  /** When mpirun exited (Date.now()). */
  endedAt: number
}

/** Runs `worker.ts args...` as nproc ranks; resolves when mpirun exits (killed after timeoutMs). */
export function runRanks(nproc: number, args: string[], timeoutMs = 120_000): Promise<RanksResult> {
  // No CUDA probe in the ranks: these tests are about the CPU path.
  const command = [process.execPath, '--import', 'tsx', worker, ...args]
  const { file, args: mpiArgs, env } = iv.distributed.mpirunCommand(nproc, command)
  return new Promise((resolve) => {
    const child = spawn(file, mpiArgs, { env: { ...env, INTERN_VISION_CUDA: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      resolve({ status, signal, output, endedAt: Date.now() })
    })
  })
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })

/** Runs `worker.ts args...` as nproc local processes with torchrun-style variables (no MPI). */
export async function runEnvLaunched(
  nproc: number,
  args: string[],
  timeoutMs = 120_000,
): Promise<{ statuses: (number | null)[]; output: string }> {
  const port = await freePort()
  let output = ''
  const statuses = await Promise.all(
    Array.from({ length: nproc }, (_, rank) => {
      const env = {
        ...process.env,
        RANK: String(rank),
        WORLD_SIZE: String(nproc),
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: String(nproc),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
      }
      const child = spawn(process.execPath, ['--import', 'tsx', worker, ...args], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      child.stdout.on('data', (d) => (output += d))
      child.stderr.on('data', (d) => (output += d))
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      return new Promise<number | null>((resolve) =>
        child.on('close', (status) => {
          clearTimeout(timer)
          resolve(status)
        }),
      )
    }),
  )
  return { statuses, output }
}
