// File-system failures as errors a user can act on: the function, the file and what went
// wrong in words, with Node's error code kept on the error for callers that branch on it.
import * as fs from 'node:fs'

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'it is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EMFILE: 'too many open files',
  EFBIG: 'the file is too large',
  EIO: 'input/output error',
}

/** `fn: cannot <verb> '<path>': <reason>` for an fs error; any other error passes through. */
export function fileError(
  fn: string,
  verb: 'read' | 'write' | 'append to' | 'open' | 'list',
  path: string,
  e: unknown,
): Error {
  const code = (e as NodeJS.ErrnoException | null)?.code
  if (typeof code !== 'string' || !(e instanceof Error)) return e instanceof Error ? e : new Error(String(e))
  const reason = REASONS[code] ? `${REASONS[code]} (${code})` : e.message
  return Object.assign(new Error(`${fn}: cannot ${verb} '${path}': ${reason}`), { code })
}

/** Appends `text` to a log file; a failure (a full disk, a directory in the way) names `fn` and the file. */
export function appendLine(fn: string, path: string, text: string): void {
  try {
    fs.appendFileSync(path, text)
  } catch (e) {
    throw fileError(fn, 'append to', path, e)
  }
}
