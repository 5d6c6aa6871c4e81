// Loads the MPI backend's addon (native/distributed/mpi.cc), built by `npm run build:mpi`
// where Open MPI is installed. Loading links libmpi but starts nothing: MPI is initialised
// by the process group's init().
import * as fs from 'node:fs'
import * as path from 'node:path'
import { packageRoot } from '../backend/native'
import type { CollectiveAddon } from './communicator'

export interface MpiAddon extends CollectiveAddon {
  init(): { rank: number; size: number; version: string; library: string }
}

type Loaded = { ok: true; addon: MpiAddon } | { ok: false; reason: string }
let loaded: Loaded | undefined

/** Where the binary may be: INTERN_VISION_MPI_BINARY, else the build-mpi folder. */
export function mpiBinaryPath(): string {
  const override = process.env.INTERN_VISION_MPI_BINARY
  return override ? path.resolve(override) : path.join(packageRoot, 'build-mpi', 'Release', 'intern_vision_mpi.node')
}

export function loadMpi(): Loaded {
  if (loaded) return loaded
  const binary = mpiBinaryPath()
  if (!fs.existsSync(binary)) {
    loaded = {
      ok: false,
      reason: `no MPI build found at ${binary} (install Open MPI, e.g. apt-get install openmpi-bin libopenmpi-dev, then run \`npm run build:mpi\`)`,
    }
    return loaded
  }
  try {
    const m = { exports: {} as MpiAddon }
    process.dlopen(m, binary)
    loaded = { ok: true, addon: m.exports }
  } catch (e) {
    loaded = { ok: false, reason: `${binary} failed to load: ${(e as Error).message}` }
  }
  return loaded
}
