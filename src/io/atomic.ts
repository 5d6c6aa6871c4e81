// Atomic file replacement: write a temporary file beside the target, fsync it, rename it
// over the target, fsync the directory. rename(2) within one directory is atomic, so
// readers (and a restart after a crash) see the old file or the whole new one, never a
// truncated one. On any failure the temporary file is removed and the target is untouched;
// a temporary left by a killed writer is removed by the next write or load of the target.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fileError } from './file-errors'

let counter = 0

/** Bytes per write(2): Node refuses a single write of 2 GiB or more. */
const WRITE_CHUNK = 2 ** 30

const tempPrefix = (target: string) => `.${path.basename(target)}.tmp-`

export function atomicWrite(target: string, fill: (write: (bytes: Uint8Array) => void) => void): void {
  const dir = path.dirname(path.resolve(target))
  removeStaleTemps(target)
  const tmp = path.join(dir, `${tempPrefix(target)}${process.pid}-${Date.now()}-${counter++}`)
  let fd: number | null = null
  try {
    fd = fs.openSync(tmp, 'wx', 0o644)
    fill((bytes) => {
      let done = 0
      while (done < bytes.length)
        done += fs.writeSync(fd as number, bytes, done, Math.min(bytes.length - done, WRITE_CHUNK))
    })
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fd = null
    fs.renameSync(tmp, target)
  } catch (e) {
    if (fd !== null) fs.closeSync(fd)
    fs.rmSync(tmp, { force: true })
    throw fileError('atomicWrite', 'write', target, e)
  }
  syncDir(dir)
}

/**
 * Removes the temporary files an atomicWrite of `target` left behind when its process died
 * (kill -9, power loss). Temporaries of live processes are writes in progress and stay.
 */
export function removeStaleTemps(target: string): void {
  const dir = path.dirname(path.resolve(target))
  const prefix = tempPrefix(target)
  let names: string[]
  try {
    names = fs.readdirSync(dir).filter((n) => n.startsWith(prefix))
  } catch {
    return // no folder yet, or unlistable: nothing this process could clean
  }
  for (const name of names) {
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1])
    if (!Number.isSafeInteger(pid) || pid === process.pid || isAlive(pid)) continue
    try {
      fs.rmSync(path.join(dir, name), { force: true })
    } catch {
      // A read-only folder (a shipped model, say): reading still works, cleaning is not ours.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

// Makes the rename itself durable; some filesystems refuse to fsync a directory, which only
// weakens durability (not atomicity), so that failure is ignored.
function syncDir(dir: string): void {
  let fd: number | null = null
  try {
    fd = fs.openSync(dir, 'r')
    fs.fsyncSync(fd)
  } catch {
    // best effort
  } finally {
    if (fd !== null) fs.closeSync(fd)
  }
}
