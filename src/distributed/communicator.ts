// What the process group asks of a backend (MPI for CPU tensors, NCCL for CUDA ones). Both
// addons have one shape: an operation starts at once and returns an id, and wait(id, ms)
// says whether it finished before the deadline. Operations run in the order they were
// started, which must be the same on every rank.
import { describe } from '../backend/kernel-calls'
import type { Device } from '../tensor/dtype'
import type { Tensor } from '../tensor/tensor'

export type BackendName = 'mpi' | 'nccl'
export type NativeReduceOp = 'sum' | 'prod' | 'max' | 'min'
type Descriptor = ReturnType<typeof describe>

/** A live tensor's descriptor: a disposed one's memory may already belong to another. */
function live(op: string, t: Tensor): Descriptor {
  t.checkAlive(op)
  return describe(t)
}

/** The entry points each backend's addon provides (native/distributed/mpi.cc, native/cuda/binding/nccl.cc). */
export interface CollectiveAddon {
  allReduce(t: Descriptor, op: NativeReduceOp): number
  broadcast(t: Descriptor, src: number): number
  allGather(send: Descriptor, recv: Descriptor): number
  barrier(): number
  wait(id: number, timeoutMs: number): boolean
  finalize(): void
  abort(code: number): void
}

export interface Work {
  /** Blocks until the operation is done; throws its error, or a DistributedError at the deadline. */
  wait(): void
}

/** A collective that did not finish in time: the world cannot be used any more. */
export class DistributedError extends Error {
  override name = 'DistributedError'
}

export class Communicator {
  constructor(
    readonly backend: BackendName,
    readonly device: Device,
    readonly rank: number,
    readonly worldSize: number,
    private readonly addon: CollectiveAddon,
    private readonly timeoutMs: number,
    /** Told of a missed deadline before the error is thrown (the group stops using the world). */
    private readonly onTimeout: (e: DistributedError) => void,
  ) {}

  /** In place on a contiguous tensor. */
  allReduce(t: Tensor, op: NativeReduceOp): Work {
    return this.started('allReduce', this.addon.allReduce(live('allReduce', t), op))
  }

  /** In place on a contiguous tensor: every rank ends with rank src's values. */
  broadcast(t: Tensor, src: number): Work {
    return this.started('broadcast', this.addon.broadcast(live('broadcast', t), src))
  }

  /** recv (contiguous, worldSize times send's elements) gets every rank's send, in rank order. */
  allGather(send: Tensor, recv: Tensor): Work {
    return this.started('allGather', this.addon.allGather(live('allGather', send), live('allGather', recv)))
  }

  barrier(): Work {
    return this.started('barrier', this.addon.barrier())
  }

  /** Leaves the world cleanly, after all started work. */
  finalize(): void {
    this.addon.finalize()
  }

  /** Ends the whole job now: the launcher stops the other ranks. */
  abort(code: number): void {
    this.addon.abort(code)
  }

  private started(what: string, id: number): Work {
    return {
      wait: () => {
        if (this.addon.wait(id, this.timeoutMs)) return
        const e = new DistributedError(
          `distributed: ${what} (${this.backend}) did not finish within ${this.timeoutMs / 1000} s on rank ${this.rank} of ${this.worldSize}: ` +
            'another rank has stopped or hung, or the ranks called collectives in different orders',
        )
        this.onTimeout(e)
        throw e
      },
    }
  }
}
