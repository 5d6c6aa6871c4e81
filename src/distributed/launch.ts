// Starting N ranks on this machine from a single command (the CLI's --nproc): the command is
// run again under Open MPI's mpirun, which then is the launcher that init() reads.
import { spawnSync } from 'node:child_process'

export interface MpirunOptions {
  /** The mpirun executable (default: mpirun on PATH). */
  mpirun?: string
  /** Extra mpirun arguments, before the command. */
  mpirunArgs?: string[]
}

/** The mpirun invocation that runs `command` (program and arguments) as nproc local ranks. */
export function mpirunCommand(
  nproc: number,
  command: string[],
  opts: MpirunOptions = {},
): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
  if (!Number.isInteger(nproc) || nproc < 1)
    throw new Error(`distributed.mpirunCommand: nproc must be a positive integer, got ${nproc}`)
  if (command.length === 0) throw new Error('distributed.mpirunCommand: the command is empty')
  // --bind-to none: ranks run threads (the kernels' pool, the communication thread), so none
  // is pinned to a single core. --oversubscribe: Open MPI counts slots by physical cores and
  // otherwise refuses more ranks than that (and it makes idle ranks yield their core).
  const args = ['-np', String(nproc), '--bind-to', 'none', '--oversubscribe', ...(opts.mpirunArgs ?? []), ...command]
  // Open MPI refuses to start as root unless told twice (containers often run as root).
  const env =
    process.getuid?.() === 0
      ? { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' }
      : { ...process.env }
  return { file: opts.mpirun ?? 'mpirun', args, env }
}

/** Runs `command` as nproc local ranks under mpirun, output inherited; returns its exit status. */
export function launchLocal(nproc: number, command: string[], opts: MpirunOptions = {}): number {
  const { file, args, env } = mpirunCommand(nproc, command, opts)
  const r = spawnSync(file, args, { stdio: 'inherit', env })
  if (r.error)
    throw new Error(
      `distributed.launchLocal: cannot run ${file}: ${r.error.message} (install Open MPI: apt-get install openmpi-bin libopenmpi-dev)`,
    )
  return r.status ?? 1
}

/** This script, as it was started (node, its flags and loaders, the script, its arguments). */
export function thisCommand(argv: string[] = process.argv): string[] {
  return [process.execPath, ...process.execArgv, ...argv.slice(1)]
}
