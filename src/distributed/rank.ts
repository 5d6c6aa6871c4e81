// This process's place in the distributed world, kept apart from the backends so that fit()
// and other writers can ask "am I rank 0?" without loading MPI or NCCL. Outside a
// distributed run the answer is rank 0 of 1.
let position = { rank: 0, worldSize: 1 }

/** Set by the process group's init() and destroy(). */
export function setWorldPosition(rank: number, worldSize: number): void {
  position = { rank, worldSize }
}

export function getRank(): number {
  return position.rank
}

export function getWorldSize(): number {
  return position.worldSize
}

/** Rank 0, or a process outside any distributed run: the one that writes checkpoints and logs. */
export function isMainProcess(): boolean {
  return position.rank === 0
}
