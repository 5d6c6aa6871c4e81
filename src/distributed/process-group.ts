// The distributed world of this process: init() reads the launcher, starts the backends (MPI
// for CPU tensors, NCCL for CUDA ones) and from then on the collectives reach every rank.
// A rank that ends badly takes the job down with it (see onExit), so the others stop with an
// error instead of waiting forever; a collective that misses its deadline does the same.
import * as os from 'node:os'
import { noGrad } from '../autograd/grad-mode'
import { setNumThreads } from '../runtime'
import type { Device } from '../tensor/dtype'
import { shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { Communicator, DistributedError, type BackendName, type NativeReduceOp, type Work } from './communicator'
import { launchedByMpi, launchEnv, type LaunchEnv, type Launcher } from './env'
import { loadMpi } from './mpi'
import { loadNccl } from './nccl'
import { setWorldPosition } from './rank'
import { rendezvous } from './rendezvous'

export type ReduceOp = NativeReduceOp | 'mean'

export interface InitOptions {
  /** 'mpi' (CPU tensors) or 'nccl' (CUDA tensors; MPI also serves CPU tensors when the
   * launcher is an MPI one). Default: NCCL where it loads, else MPI. */
  backend?: BackendName
  /** How long one collective may take before it is an error that ends the job (default 10 min). */
  timeoutMs?: number
}

export interface WorldInfo {
  /** 'none': a single process started without a launcher (every collective is the identity). */
  backend: BackendName | 'none'
  rank: number
  worldSize: number
  localRank: number
  localWorldSize: number
  launcher: Launcher
}

interface World extends WorldInfo {
  comms: Partial<Record<Device, Communicator>>
  /** Set when a collective missed its deadline: nothing may use the world after that. */
  broken: DistributedError | null
}

let world: World | null = null
let exitHookInstalled = false
/** The uncaught error that is ending this process, if any: MPI_Abort ends the process before
 * Node would print it, so onExit prints it. */
let fatal: unknown = null

export function isInitialized(): boolean {
  return world !== null
}

/** The world as init() set it up; throws naming `fn` before init. */
export function worldInfo(fn = 'worldInfo'): WorldInfo {
  const { comms: _c, broken: _b, ...info } = requireWorld(fn)
  return info
}

/** Whether a backend can be used here: its library loads (MPI needs `npm run build:mpi`;
 * NCCL needs CUDA and libnccl.so.2). Never throws. */
export function isAvailable(backend: BackendName): boolean {
  return unavailableReason(backend) === null
}

/** Why a backend cannot be used, in one line; null when it can. */
export function unavailableReason(backend: BackendName): string | null {
  if (backend !== 'mpi' && backend !== 'nccl') return `unknown backend '${backend}' (use 'mpi' or 'nccl')`
  const loaded = backend === 'mpi' ? loadMpi() : loadNccl()
  return loaded.ok ? null : loaded.reason
}

/**
 * Joins the world the launcher started (mpirun, srun, or torchrun-style RANK/WORLD_SIZE).
 * Call it once, before making any CUDA tensor (each rank then picks its own GPU), and await
 * it: a torchrun-style NCCL launch meets at MASTER_ADDR:MASTER_PORT.
 */
export async function init(opts: InitOptions = {}): Promise<WorldInfo> {
  if (world) throw new Error(`distributed.init: already initialised (rank ${world.rank} of ${world.worldSize})`)
  const { backend, timeoutMs = 600_000 } = opts
  if (backend !== undefined && backend !== 'mpi' && backend !== 'nccl')
    throw new Error(`distributed.init: backend must be 'mpi' or 'nccl', got ${JSON.stringify(backend)}`)
  if (!(timeoutMs > 0)) throw new Error(`distributed.init: timeoutMs must be a positive number, got ${timeoutMs}`)
  const env = launchEnv()
  shareCores(env)
  if (backend === undefined && env.launcher === 'none')
    return join({ ...env, backend: 'none', comms: {}, broken: null })
  if (backend !== 'mpi') pinLocalGpu(env)
  const chosen = backend ?? (loadNccl().ok ? 'nccl' : 'mpi')
  const onTimeout = (e: DistributedError) => {
    if (world) world.broken = e
  }
  const comms: World['comms'] = {}
  let { rank, worldSize } = env
  if (chosen === 'mpi' || (launchedByMpi(env) && loadMpi().ok)) {
    if (env.launcher === 'torchrun')
      throw new Error(
        'distributed.init: the MPI backend needs an MPI launcher (mpirun, or srun --mpi=pmix); RANK/WORLD_SIZE alone can only drive NCCL',
      )
    const mpi = loadMpi()
    if (!mpi.ok) throw new Error(`distributed.init: the MPI backend is not available: ${mpi.reason}`)
    const got = mpi.addon.init()
    if (env.launcher !== 'none' && (got.rank !== env.rank || got.size !== env.worldSize))
      throw new Error(
        `distributed.init: MPI sees rank ${got.rank} of ${got.size} but the launcher (${env.launcher}) set rank ${env.rank} of ${env.worldSize}; ` +
          'under slurm, start the ranks with srun --mpi=pmix so that MPI joins them into one world',
      )
    ;({ rank, size: worldSize } = got)
    comms.cpu = new Communicator('mpi', 'cpu', rank, worldSize, mpi.addon, timeoutMs, onTimeout)
  }
  if (chosen === 'nccl') {
    const loaded = loadNccl()
    if (!loaded.ok) throw new Error(`distributed.init: the NCCL backend is not available: ${loaded.reason}`)
    const { nccl } = loaded
    const id = await shareNcclId(env, comms.cpu, rank, worldSize, rank === 0 ? nccl.uniqueId() : null, timeoutMs)
    nccl.init(id, rank, worldSize)
    comms.cuda = new Communicator('nccl', 'cuda', rank, worldSize, nccl.collectives, timeoutMs, onTimeout)
  }
  return join({ ...env, rank, worldSize, backend: chosen, comms, broken: null })
}

function join(w: World): WorldInfo {
  world = w
  setWorldPosition(w.rank, w.worldSize)
  if (!exitHookInstalled) {
    process.on('uncaughtExceptionMonitor', (e) => (fatal = e))
    process.on('exit', onExit)
    exitHookInstalled = true
  }
  return worldInfo()
}

/** Rank 0's NCCL id, to every rank: over MPI when it runs, else at MASTER_ADDR:MASTER_PORT. */
async function shareNcclId(
  env: LaunchEnv,
  mpi: Communicator | undefined,
  rank: number,
  worldSize: number,
  id: ArrayBuffer | null,
  timeoutMs: number,
): Promise<ArrayBuffer> {
  if (mpi) {
    const t = Tensor.empty([128], 'uint8')
    if (id) t.backend.fromHost(t, new Uint8Array(id))
    mpi.broadcast(t, 0).wait()
    const bytes = t.data() as Uint8Array
    t.dispose()
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 128) as ArrayBuffer
  }
  if (worldSize === 1) return id!
  if (!env.masterAddr || env.masterPort === undefined)
    throw new Error(
      'distributed.init: NCCL without an MPI launcher needs MASTER_ADDR and MASTER_PORT (where rank 0 listens) to share its id',
    )
  const got = await rendezvous({
    addr: env.masterAddr,
    port: env.masterPort,
    rank,
    worldSize,
    payload: id ? new Uint8Array(id) : undefined,
    timeoutMs,
  })
  return got.buffer.slice(got.byteOffset, got.byteOffset + got.length) as ArrayBuffer
}

// Ranks on one machine share its cores (torchrun sets OMP_NUM_THREADS=1 for the same
// reason); INTERN_VISION_NUM_THREADS, when set, wins.
function shareCores(env: LaunchEnv): void {
  if (env.localWorldSize > 1 && process.env.INTERN_VISION_NUM_THREADS === undefined)
    setNumThreads(Math.max(1, Math.floor(os.availableParallelism() / env.localWorldSize)))
}

// One GPU per rank: the CUDA backend uses device 0, so each rank sees only its own.
function pinLocalGpu(env: LaunchEnv): void {
  if (env.localWorldSize <= 1) return
  const visible = process.env.CUDA_VISIBLE_DEVICES?.split(',').filter((d) => d.trim() !== '')
  if (visible?.length === 1) return
  if (visible && env.localRank >= visible.length)
    throw new Error(
      `distributed.init: local rank ${env.localRank} has no GPU of its own in CUDA_VISIBLE_DEVICES=${process.env.CUDA_VISIBLE_DEVICES}`,
    )
  process.env.CUDA_VISIBLE_DEVICES = visible ? visible[env.localRank] : String(env.localRank)
}

/** Leaves the world cleanly (every rank should call it at the end; process exit does it too). */
export function destroy(): void {
  if (!world) return
  if (world.broken)
    throw new Error(`distributed.destroy: the world cannot be left cleanly after: ${world.broken.message}`)
  const { comms } = world
  world = null
  setWorldPosition(0, 1)
  comms.cuda?.finalize()
  comms.cpu?.finalize()
}

// A rank that exits while the world is up (an uncaught error, process.exit(1), a missed
// deadline) takes the job down: MPI_Abort makes the launcher stop every other rank at once;
// without MPI, aborting the NCCL communicator makes the peers' next collective fail. A clean
// exit (code 0) leaves the world as destroy() does.
function onExit(code: number): void {
  const w = world
  if (!w) return
  if (code === 0 && !w.broken) {
    destroy()
    return
  }
  world = null
  const { cpu, cuda } = w.comms
  if (!cpu && !cuda) return
  // MPI_Abort ends the process before Node would print the uncaught error, so print it here.
  const why = !cpu || fatal === null ? null : fatal instanceof Error ? (fatal.stack ?? fatal.message) : String(fatal)
  process.stderr.write(
    (why ? `${why}\n` : '') +
      `intern-vision: rank ${w.rank} of ${w.worldSize} is exiting with code ${code || 1} inside a distributed run: ` +
      (cpu
        ? 'aborting the job so that every rank stops\n'
        : 'aborting its NCCL communicator so that the other ranks fail at their next collective\n'),
  )
  cuda?.abort(code || 1)
  cpu?.abort(code || 1)
}

function requireWorld(fn: string): World {
  if (!world)
    throw new Error(`distributed.${fn}: the process group is not initialised (await distributed.init() first)`)
  return world
}

/** The backend for `device`'s tensors; null in a one-process world without one. */
export function communicatorFor(fn: string, device: Device): Communicator | null {
  const w = requireWorld(fn)
  if (w.broken)
    throw new DistributedError(`distributed.${fn}: the world is unusable after an earlier failure: ${w.broken.message}`)
  const c = w.comms[device]
  if (c) return c
  if (w.worldSize === 1) return null
  throw new Error(
    `distributed.${fn}: this world (backend '${w.backend}') has no backend for ${device} tensors: ` +
      (device === 'cpu'
        ? 'CPU tensors need MPI (launch with mpirun, or srun --mpi=pmix)'
        : "CUDA tensors need init({backend: 'nccl'})"),
  )
}

function checkTensor(fn: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor))
    throw new Error(`distributed.${fn}: expected a Tensor, got ${t === null ? 'null' : typeof t}`)
  t.checkAlive(`distributed.${fn}`)
}

// In place on any tensor: a contiguous one directly, else through a contiguous copy.
function inPlace(t: Tensor, run: (contiguous: Tensor) => void): Tensor {
  noGrad(() => {
    const c = t.isContiguous() ? t : t.contiguous()
    run(c)
    if (c !== t) {
      t.copy_(c)
      c.dispose()
    }
  })
  return t
}

/** Reduces t across ranks in place ('mean' divides the sum by the world size); returns t. */
export function allReduce(t: Tensor, opts: { op?: ReduceOp } = {}): Tensor {
  checkTensor('allReduce', t)
  const op = opts.op ?? 'sum'
  if (!['sum', 'mean', 'prod', 'max', 'min'].includes(op))
    throw new Error(`distributed.allReduce: op must be 'sum', 'mean', 'prod', 'max' or 'min', got '${op}'`)
  const reducible = op === 'mean' ? ['float32', 'float64'] : ['float32', 'float64', 'int32']
  if (!reducible.includes(t.dtype))
    throw new Error(`distributed.allReduce: cannot take the ${op} of a ${t.dtype} tensor (${reducible.join(', ')})`)
  const c = communicatorFor('allReduce', t.device)
  if (!c) return t
  return inPlace(t, (x) => {
    c.allReduce(x, op === 'mean' ? 'sum' : op).wait()
    if (op === 'mean') {
      const scaled = x.div(c.worldSize)
      x.copy_(scaled)
      scaled.dispose()
    }
  })
}

/** Every rank's t becomes rank src's, in place; returns t. */
export function broadcast(t: Tensor, src = 0): Tensor {
  checkTensor('broadcast', t)
  const c = communicatorFor('broadcast', t.device)
  const size = c?.worldSize ?? 1
  if (!Number.isInteger(src) || src < 0 || src >= size)
    throw new Error(`distributed.broadcast: src must be a rank in [0, ${size}), got ${src}`)
  if (!c) return t
  return inPlace(t, (x) => c.broadcast(x, src).wait())
}

/** Every rank's t, stacked in rank order: a new tensor of shape [worldSize, ...t.shape]. */
export function allGather(t: Tensor): Tensor {
  checkTensor('allGather', t)
  const c = communicatorFor('allGather', t.device)
  return noGrad(() => {
    if (!c) return t.unsqueeze(0).clone()
    const out = Tensor.empty([c.worldSize, ...t.shape], t.dtype, t.device)
    const send = t.isContiguous() ? t : t.contiguous()
    c.allGather(send, out).wait()
    if (send !== t) send.dispose()
    return out
  })
}

/** Returns once every rank has called it. */
export function barrier(): void {
  const w = requireWorld('barrier')
  const c = communicatorFor('barrier', w.comms.cpu ? 'cpu' : 'cuda')
  c?.barrier().wait()
}

/** Starts an in-place all-reduce of a contiguous tensor, for code that overlaps it with other
 * work (DistributedDataParallel): t must stay alive and untouched until the Work is waited for. */
export function allReduceAsync(fn: string, t: Tensor, op: NativeReduceOp): Work | null {
  if (!t.isContiguous())
    throw new Error(`distributed.${fn}: the tensor of shape ${shapeStr(t.shape)} must be contiguous`)
  const c = communicatorFor(fn, t.device)
  return c ? c.allReduce(t, op) : null
}
