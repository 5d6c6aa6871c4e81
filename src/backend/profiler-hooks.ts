// Where the profiler (src/profiler) plugs into the layers below it. The kernel calls, the
// allocator and the backward engine test `profilerHooks.active` and nothing else, so a run
// without a profile pays one boolean check per call. The profiler fills in the functions
// and sets `active` for the duration of a profile; this file imports nothing.

export interface ProfilerHooks {
  active: boolean
  /** Runs one native kernel call (`args` as the op layer passed them) inside a timed span. */
  kernel(name: string, args: readonly unknown[], run: () => unknown): unknown
  /** Runs one backward() call, the engine's own work included, inside a timed span. */
  backwardPass(run: () => void): void
  /** Runs one autograd node's backward rule inside a timed span. */
  backwardNode<T>(name: string, run: () => T): T
  /** Storage of `bytes` was just allocated for a tensor. */
  allocated(bytes: number): void
}

export const profilerHooks: ProfilerHooks = {
  active: false,
  kernel: (_name, _args, run) => run(),
  backwardPass: (run) => run(),
  backwardNode: (_name, run) => run(),
  allocated: () => undefined,
}
