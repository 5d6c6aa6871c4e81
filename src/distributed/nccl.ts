// NCCL through the CUDA addon's binding (native/cuda/binding/nccl.cc), which opens
// libnccl.so.2 at run time: present on GPU clusters, absent here and in CI.
import { cudaState } from '../backend/cuda'
import type { CollectiveAddon, NativeReduceOp } from './communicator'

type Descriptor = Parameters<CollectiveAddon['allReduce']>[0]

interface NcclEntryPoints {
  ncclLoad(): { available: boolean; version?: number; reason?: string }
  ncclUniqueId(): ArrayBuffer
  ncclInit(id: ArrayBuffer, rank: number, size: number): void
  ncclAllReduce(t: Descriptor, op: NativeReduceOp): number
  ncclBroadcast(t: Descriptor, src: number): number
  ncclAllGather(send: Descriptor, recv: Descriptor): number
  ncclBarrier(): number
  ncclWait(id: number, timeoutMs: number): boolean
  ncclFinalize(): void
  ncclAbort(): void
}

export interface Nccl {
  version: string
  uniqueId(): ArrayBuffer
  /** Joins the communicator; blocks until every rank has called it with the same id. */
  init(id: ArrayBuffer, rank: number, size: number): void
  collectives: CollectiveAddon
}

// NCCL_VERSION_CODE: X*1000+Y*100+Z up to 2.8, X*10000+Y*100+Z after.
const versionString = (code: number) =>
  code < 20900
    ? `${Math.floor(code / 1000)}.${Math.floor(code / 100) % 10}.${code % 100}`
    : `${Math.floor(code / 10000)}.${Math.floor(code / 100) % 100}.${code % 100}`

export function loadNccl(): { ok: true; nccl: Nccl } | { ok: false; reason: string } {
  const cuda = cudaState()
  if (!cuda.available) return { ok: false, reason: `CUDA is not available: ${cuda.reason}` }
  const a = cuda.addon as unknown as NcclEntryPoints
  if (typeof a.ncclLoad !== 'function')
    return { ok: false, reason: 'this CUDA build has no NCCL binding (rebuild it: npm run build:cuda)' }
  const loaded = a.ncclLoad()
  if (!loaded.available) return { ok: false, reason: loaded.reason ?? 'NCCL did not load' }
  return {
    ok: true,
    nccl: {
      version: versionString(loaded.version ?? 0),
      uniqueId: () => a.ncclUniqueId(),
      init: (id, rank, size) => a.ncclInit(id, rank, size),
      collectives: {
        allReduce: (t, op) => a.ncclAllReduce(t, op),
        broadcast: (t, src) => a.ncclBroadcast(t, src),
        allGather: (send, recv) => a.ncclAllGather(send, recv),
        barrier: () => a.ncclBarrier(),
        wait: (id, timeoutMs) => a.ncclWait(id, timeoutMs),
        finalize: () => a.ncclFinalize(),
        abort: () => a.ncclAbort(),
      },
    },
  }
}
