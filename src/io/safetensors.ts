// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON (`{name: {dtype, shape, data_offsets}}`
// plus an optional `__metadata__` of string -> string), then the raw little-endian data,
// with offsets relative to the end of the header. Every read is validated, so a corrupt
// or truncated file gets an Error naming the file and the problem, never garbage tensors.
// Files are read and written by ranges, tensor by tensor, so neither a file nor one tensor
// is limited to the 2 GiB a single read or write can move; names come back in maps without
// a prototype, so a tensor called `__proto__` is a tensor like any other.
import * as fs from 'node:fs'
import * as os from 'node:os'
import { hostBytes, hostView } from '../backend/cpu'
import type { DType } from '../tensor/dtype'
import { numelOf, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { atomicWrite, removeStaleTemps } from './atomic'
import { fileError } from './file-errors'

export type Metadata = Record<string, string>

export interface SafetensorsContents {
  tensors: Record<string, Tensor>
  metadata: Metadata
}

/** What the file's dtype tag is, and what it becomes here (I64 narrows, F16 widens). */
const READ_DTYPES: Record<string, { bytes: number; dtype: DType }> = {
  F32: { bytes: 4, dtype: 'float32' },
  F64: { bytes: 8, dtype: 'float64' },
  I32: { bytes: 4, dtype: 'int32' },
  U8: { bytes: 1, dtype: 'uint8' },
  BOOL: { bytes: 1, dtype: 'bool' },
  I64: { bytes: 8, dtype: 'int32' },
  F16: { bytes: 2, dtype: 'float32' },
  BF16: { bytes: 2, dtype: 'bfloat16' },
}

const WRITE_DTYPES: Record<DType, string> = {
  float32: 'F32',
  float64: 'F64',
  bfloat16: 'BF16',
  int32: 'I32',
  uint8: 'U8',
  bool: 'BOOL',
}

/** The reference implementation refuses headers above 100 MB; so do we (a bad length would otherwise allocate). */
const MAX_HEADER_BYTES = 100_000_000

/** Bytes moved per read or conversion step: far below the 2 GiB a single read can move. */
const CHUNK = 2 ** 26

if (os.endianness() !== 'LE') throw new Error('safetensors: this build assumes a little-endian host')

// ---------------------------------------------------------------- reading

interface Entry {
  name: string
  tag: string
  shape: number[]
  begin: number
  end: number
}

function fail(source: string, problem: string): never {
  throw new Error(`safetensors: ${source}: ${problem}`)
}

/** Where the bytes come from: a file read by ranges or an image in memory. */
interface ByteSource {
  name: string
  size: number
  /** Fills `into` with the bytes at `position`; fails when the source ends first. */
  read(into: Uint8Array, position: number): void
}

function memorySource(buf: Uint8Array, name: string): ByteSource {
  return {
    name,
    size: buf.length,
    read(into, position) {
      if (position + into.length > buf.length) fail(name, `truncated: ${buf.length} bytes, read past the end`)
      into.set(buf.subarray(position, position + into.length))
    },
  }
}

function fileSource(fd: number, path: string): ByteSource {
  const size = fs.fstatSync(fd).size
  return {
    name: path,
    size,
    read(into, position) {
      for (let done = 0; done < into.length;) {
        let n: number
        try {
          n = fs.readSync(fd, into, done, Math.min(into.length - done, CHUNK), position + done)
        } catch (e) {
          throw fileError('safetensors', 'read', path, e)
        }
        if (n === 0)
          fail(
            path,
            `truncated: the file ended at byte ${position + done} while ${into.length - done} more were expected (was it changed while being read?)`,
          )
        done += n
      }
    },
  }
}

function parseHeader(src: ByteSource): { entries: Entry[]; metadata: Metadata; dataStart: number } {
  const source = src.name
  if (src.size < 8) fail(source, `truncated: ${src.size} bytes, less than the 8-byte header length`)
  const lengthField = new Uint8Array(8)
  src.read(lengthField, 0)
  const n = new DataView(lengthField.buffer).getBigUint64(0, true)
  if (n > BigInt(MAX_HEADER_BYTES)) fail(source, `bad header length ${n} (more than ${MAX_HEADER_BYTES} bytes)`)
  const headerLen = Number(n)
  if (8 + headerLen > src.size)
    fail(source, `truncated: header length ${headerLen} runs past the end of the ${src.size}-byte file`)
  const headerBytes = Buffer.alloc(headerLen)
  src.read(headerBytes, 8)
  let header: unknown
  try {
    header = JSON.parse(headerBytes.toString('utf8'))
  } catch (e) {
    fail(source, `the header is not valid JSON (${(e as Error).message})`)
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    fail(source, 'the header must be a JSON object')
  const dataStart = 8 + headerLen
  const dataLen = src.size - dataStart
  const metadata: Metadata = Object.create(null)
  const entries: Entry[] = []
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
        fail(source, '__metadata__ must be an object of strings')
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string')
          fail(source, `__metadata__ value for '${k}' must be a string, got ${JSON.stringify(v)}`)
        metadata[k] = v
      }
      continue
    }
    entries.push(parseEntry(name, raw, dataLen, source))
  }
  // Two tensors may not share bytes; sorted by start, each must begin after every earlier end.
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin)
  let reach: Entry | null = null
  for (const q of sorted) {
    if (reach && q.begin < reach.end)
      fail(
        source,
        `tensors '${reach.name}' [${reach.begin}, ${reach.end}) and '${q.name}' [${q.begin}, ${q.end}) overlap`,
      )
    if (!reach || q.end > reach.end) reach = q
  }
  return { entries, metadata, dataStart }
}

function parseEntry(name: string, raw: unknown, dataLen: number, source: string): Entry {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(source, `entry '${name}' must be an object`)
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>
  if (typeof dtype !== 'string' || !(dtype in READ_DTYPES))
    fail(
      source,
      `tensor '${name}' has unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(READ_DTYPES).join(', ')})`,
    )
  if (!Array.isArray(shape) || shape.some((s) => !Number.isSafeInteger(s) || s < 0))
    fail(source, `tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`)
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    offsets.some((o) => !Number.isSafeInteger(o) || o < 0) ||
    offsets[0] > offsets[1]
  )
    fail(source, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`)
  const [begin, end] = offsets as number[]
  const expected = numelOf(shape) * READ_DTYPES[dtype].bytes
  if (end - begin !== expected)
    fail(
      source,
      `tensor '${name}' (${dtype}, shape ${shapeStr(shape)}) needs ${expected} bytes, but data_offsets [${begin}, ${end}) hold ${end - begin}`,
    )
  if (end > dataLen)
    fail(source, `truncated: tensor '${name}' ends at data byte ${end}, past the ${dataLen} bytes of data`)
  return { name, tag: dtype, shape: shape as number[], begin, end }
}

/** Reads one entry into a fresh CPU tensor: the native dtypes straight into its memory,
 * chunk by chunk; I64 and F16 through a bounded scratch buffer. */
function decode(e: Entry, src: ByteSource, at: number): Tensor {
  const { dtype } = READ_DTYPES[e.tag]
  const out = Tensor.empty(e.shape, dtype, 'cpu')
  try {
    const total = e.end - e.begin
    if (e.tag === 'I64' || e.tag === 'F16') {
      const width = READ_DTYPES[e.tag].bytes
      const dst = hostView(out)
      const scratch = new Uint8Array(Math.min(total, CHUNK))
      const dv = new DataView(scratch.buffer)
      for (let done = 0; done < total; done += scratch.length) {
        const part = scratch.subarray(0, Math.min(scratch.length, total - done))
        src.read(part, at + done)
        const first = done / width
        for (let i = 0; i < part.length / width; i++) dst[first + i] = convert(e, dv, i, first + i, src.name)
      }
    } else {
      for (let done = 0; done < total; done += CHUNK) {
        const part = hostBytes(out, done, Math.min(CHUNK, total - done))
        src.read(part, at + done)
        // Kernels expect 0/1; any other non-zero byte still means true.
        if (e.tag === 'BOOL') for (let i = 0; i < part.length; i++) part[i] = part[i] !== 0 ? 1 : 0
      }
    }
  } catch (err) {
    out.dispose()
    throw err
  }
  return out
}

function convert(e: Entry, dv: DataView, i: number, element: number, source: string): number {
  if (e.tag === 'F16') return halfToFloat(dv.getUint16(i * 2, true))
  const v = dv.getBigInt64(i * 8, true)
  if (v > 2147483647n || v < -2147483648n)
    fail(source, `tensor '${e.name}' (I64) holds ${v} at element ${element}, outside the int32 range it is read into`)
  return Number(v)
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24
  if (exp === 31) return frac ? NaN : sign * Infinity
  return sign * (1 + frac / 1024) * 2 ** (exp - 15)
}

function readAll(src: ByteSource): SafetensorsContents {
  const { entries, metadata, dataStart } = parseHeader(src)
  const tensors: Record<string, Tensor> = Object.create(null)
  try {
    for (const e of entries) tensors[e.name] = decode(e, src, dataStart + e.begin)
  } catch (err) {
    for (const t of Object.values(tensors)) t.dispose()
    throw err
  }
  return { tensors, metadata }
}

/** Parses a safetensors image; `source` names it in errors (a path, or '<buffer>'). */
export function deserialize(buffer: Uint8Array, source = '<buffer>'): SafetensorsContents {
  return readAll(memorySource(buffer, source))
}

/** The tensors in a safetensors image (safetensors.torch.load). */
export function load(buffer: Uint8Array): Record<string, Tensor> {
  return deserialize(buffer).tensors
}

/** Tensors and metadata of a safetensors file, read by ranges (any size). */
export function readFile(path: string): SafetensorsContents {
  removeStaleTemps(path)
  let fd: number
  try {
    fd = fs.openSync(path, 'r')
  } catch (e) {
    throw fileError('safetensors', 'open', path, e)
  }
  try {
    if (fs.fstatSync(fd).isDirectory()) fail(path, 'it is a directory, not a safetensors file')
    return readAll(fileSource(fd, path))
  } finally {
    fs.closeSync(fd)
  }
}

/** The tensors of a safetensors file (safetensors.torch.load_file), on the CPU. */
export function loadFile(path: string): Record<string, Tensor> {
  return readFile(path).tensors
}

// ---------------------------------------------------------------- writing

interface Planned {
  name: string
  tensor: Tensor
}

function plan(
  tensors: Record<string, Tensor>,
  metadata: Metadata | undefined,
  op: string,
): { header: Buffer; items: Planned[]; dataLen: number } {
  if (tensors === null || typeof tensors !== 'object')
    throw new Error(`${op}: 'tensors' must be an object of name -> Tensor`)
  // Prototype-free, so that a tensor named '__proto__' is written like any other.
  const header: Record<string, unknown> = Object.create(null)
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object')
      throw new Error(`${op}: 'metadata' must be an object of strings`)
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string') throw new Error(`${op}: metadata value for '${k}' must be a string, got ${typeof v}`)
    if (Object.keys(metadata).length) header.__metadata__ = metadata
  }
  // Largest element first keeps every tensor aligned to its element size, as the reference writer does.
  const items = Object.entries(tensors)
    .map(([name, tensor]) => {
      if (name === '' || name === '__metadata__') throw new Error(`${op}: '${name}' cannot be a tensor name`)
      if (!(tensor instanceof Tensor))
        throw new Error(`${op}: '${name}' must be a Tensor, got ${tensor === null ? 'null' : typeof tensor}`)
      tensor.checkAlive(`${op} ('${name}')`)
      return { name, tensor }
    })
    .sort((a, b) => b.tensor.itemSize - a.tensor.itemSize || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  let at = 0
  for (const { name, tensor } of items) {
    const bytes = tensor.numel * tensor.itemSize
    header[name] = { dtype: WRITE_DTYPES[tensor.dtype], shape: tensor.shape, data_offsets: [at, at + bytes] }
    at += bytes
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8')
  const padded = Math.ceil(json.length / 8) * 8
  const out = Buffer.alloc(8 + padded, 0x20)
  out.writeBigUInt64LE(BigInt(padded), 0)
  json.copy(out, 8)
  return { header: out, items, dataLen: at }
}

/** Passes a tensor's bytes in row-major order to `write`, in chunks of its own memory when it
 * already is a contiguous CPU tensor, else of a contiguous CPU copy. */
function writeTensor(t: Tensor, write: (bytes: Uint8Array) => void): void {
  const c = t.device === 'cpu' && t.isContiguous() ? t : t.contiguous().to('cpu')
  try {
    const total = c.numel * c.itemSize
    for (let done = 0; done < total; done += CHUNK) write(hostBytes(c, done, Math.min(CHUNK, total - done)))
  } finally {
    if (c !== t) c.dispose()
  }
}

/** The safetensors image of `tensors` (safetensors.torch.save). */
export function serialize(tensors: Record<string, Tensor>, metadata?: Metadata): Buffer {
  const { header, items, dataLen } = plan(tensors, metadata, 'serialize')
  const out = Buffer.allocUnsafe(header.length + dataLen)
  header.copy(out, 0)
  let at = header.length
  for (const { tensor } of items)
    writeTensor(tensor, (b) => {
      out.set(b, at)
      at += b.length
    })
  return out
}

/**
 * Writes `tensors` to `path` atomically: the bytes go to a temporary file in the same
 * directory, which is fsynced and renamed over `path`, so a crash leaves either the old
 * file or the complete new one.
 */
export function saveFile(path: string, tensors: Record<string, Tensor>, metadata?: Metadata): void {
  const { header, items } = plan(tensors, metadata, 'saveFile')
  atomicWrite(path, (write) => {
    write(header)
    // Tensor by tensor and chunk by chunk, so a large model is never copied into one big buffer.
    for (const { tensor } of items) writeTensor(tensor, write)
  })
}
