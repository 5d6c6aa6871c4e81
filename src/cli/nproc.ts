// --nproc N of the training commands: started without a launcher, the command runs itself
// again under mpirun as N ranks on this machine (each of which then trains its share of every
// batch) and ends with mpirun's status; started by a launcher (mpirun, srun), it is one of
// those ranks already and trains as such.
import { launchEnv } from '../distributed/env'
import { launchLocal, thisCommand } from '../distributed/launch'

/** mpirun's exit status once this command has run as `nproc` ranks; null when this process is to train. */
export function relaunched(command: string, nproc: number | undefined): number | null {
  if (nproc === undefined) return null
  const env = launchEnv()
  if (env.launcher !== 'none') {
    if (env.worldSize !== nproc)
      throw new Error(
        `${command}: --nproc ${nproc}, but ${env.launcher} started ${env.worldSize} ranks; leave out --nproc under a launcher`,
      )
    return null
  }
  return nproc === 1 ? null : launchLocal(nproc, thisCommand())
}
