// Atomic file replacement: write a temporary file beside the target, fsync it, rename it
// over the target, fsync the directory. rename(2) within one directory is atomic, so
// readers (and a restart after a crash) see the old file or the whole new one, never a
// truncated one. On any failure the temporary file is removed and the target is untouched.
import * as fs from 'node:fs'
import * as path from 'node:path'

let counter = 0

export function atomicWrite(target: string, fill: (write: (bytes: Uint8Array) => void) => void): void {
  const dir = path.dirname(path.resolve(target))
  const tmp = path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${Date.now()}-${counter++}`)
  let fd: number | null = fs.openSync(tmp, 'wx', 0o644)
  try {
    fill((bytes) => {
      let done = 0
      while (done < bytes.length) done += fs.writeSync(fd as number, bytes, done, bytes.length - done)
    })
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fd = null
    fs.renameSync(tmp, target)
  } catch (e) {
    if (fd !== null) fs.closeSync(fd)
    fs.rmSync(tmp, { force: true })
    throw e
  }
  syncDir(dir)
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
