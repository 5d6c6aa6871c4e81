// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON (`{name: {dtype, shape, data_offsets}}`
// plus an optional `__metadata__` of string -> string), then the raw little-endian data,
// with offsets relative to the end of the header. Every read is validated, so a corrupt
// or truncated file gets an Error naming the file and the problem, never garbage tensors.
import * as fs from 'node:fs'
import * as os from 'node:os'
import { hostView } from '../backend/cpu'
import type { DType } from '../tensor/dtype'
import { numelOf, shapeStr } from '../tensor/shape'
import { Tensor } from '../tensor/tensor'
import { atomicWrite } from './atomic'

export type Metadata = Record<string, string>

export interface SafetensorsContents {
  tensors: Record<string, Tensor>
  metadata: Metadata
}

/** What the file's dtype tag is, and what it becomes here (I64 narrows, F16/BF16 widen). */
const READ_DTYPES: Record<string, { bytes: number; dtype: DType }> = {
  F32: { bytes: 4, dtype: 'float32' },
  F64: { bytes: 8, dtype: 'float64' },
  I32: { bytes: 4, dtype: 'int32' },
  U8: { bytes: 1, dtype: 'uint8' },
  BOOL: { bytes: 1, dtype: 'bool' },
  I64: { bytes: 8, dtype: 'int32' },
  F16: { bytes: 2, dtype: 'float32' },
  BF16: { bytes: 2, dtype: 'float32' },
}

const WRITE_DTYPES: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32', uint8: 'U8', bool: 'BOOL' }

/** The reference implementation refuses headers above 100 MB; so do we (a bad length would otherwise allocate). */
const MAX_HEADER_BYTES = 100_000_000

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

function parseHeader(buf: Uint8Array, source: string): { entries: Entry[]; metadata: Metadata; dataStart: number } {
  if (buf.length < 8) fail(source, `truncated: ${buf.length} bytes, less than the 8-byte header length`)
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const n = dv.getBigUint64(0, true)
  if (n > BigInt(MAX_HEADER_BYTES)) fail(source, `bad header length ${n} (more than ${MAX_HEADER_BYTES} bytes)`)
  const headerLen = Number(n)
  if (8 + headerLen > buf.length) fail(source, `truncated: header length ${headerLen} runs past the end of the ${buf.length}-byte file`)
  const text = Buffer.from(buf.buffer, buf.byteOffset + 8, headerLen).toString('utf8')
  let header: unknown
  try {
    header = JSON.parse(text)
  } catch (e) {
    fail(source, `the header is not valid JSON (${(e as Error).message})`)
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail(source, 'the header must be a JSON object')
  const dataStart = 8 + headerLen
  const dataLen = buf.length - dataStart
  const metadata: Metadata = {}
  const entries: Entry[] = []
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(source, '__metadata__ must be an object of strings')
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(source, `__metadata__ value for '${k}' must be a string, got ${JSON.stringify(v)}`)
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
      fail(source, `tensors '${reach.name}' [${reach.begin}, ${reach.end}) and '${q.name}' [${q.begin}, ${q.end}) overlap`)
    if (!reach || q.end > reach.end) reach = q
  }
  return { entries, metadata, dataStart }
}

function parseEntry(name: string, raw: unknown, dataLen: number, source: string): Entry {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(source, `entry '${name}' must be an object`)
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>
  if (typeof dtype !== 'string' || !(dtype in READ_DTYPES))
    fail(source, `tensor '${name}' has unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(READ_DTYPES).join(', ')})`)
  if (!Array.isArray(shape) || shape.some((s) => !Number.isSafeInteger(s) || s < 0))
    fail(source, `tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`)
  if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || o < 0) || offsets[0] > offsets[1])
    fail(source, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`)
  const [begin, end] = offsets as number[]
  const expected = numelOf(shape) * READ_DTYPES[dtype].bytes
  if (end - begin !== expected)
    fail(source, `tensor '${name}' (${dtype}, shape ${shapeStr(shape)}) needs ${expected} bytes, but data_offsets [${begin}, ${end}) hold ${end - begin}`)
  if (end > dataLen)
    fail(source, `truncated: tensor '${name}' ends at data byte ${end}, past the ${dataLen} bytes of data`)
  return { name, tag: dtype, shape: shape as number[], begin, end }
}

/** The bytes of a contiguous CPU tensor, in place. */
function hostBytes(t: Tensor): Uint8Array {
  const v = hostView(t)
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
}

/** Decodes one entry into a fresh CPU tensor (one memcpy for the native dtypes). */
function decode(e: Entry, bytes: Uint8Array, source: string): Tensor {
  const { dtype } = READ_DTYPES[e.tag]
  const out = Tensor.empty(e.shape, dtype, 'cpu')
  const n = out.numel
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (e.tag === 'I64') {
    const dst = hostView(out)
    for (let i = 0; i < n; i++) {
      const v = dv.getBigInt64(i * 8, true)
      if (v > 2147483647n || v < -2147483648n) {
        out.dispose()
        fail(source, `tensor '${e.name}' (I64) holds ${v} at element ${i}, outside the int32 range it is read into`)
      }
      dst[i] = Number(v)
    }
  } else if (e.tag === 'F16' || e.tag === 'BF16') {
    const dst = hostView(out)
    const conv = e.tag === 'F16' ? halfToFloat : bfloat16ToFloat
    for (let i = 0; i < n; i++) dst[i] = conv(dv.getUint16(i * 2, true))
  } else if (e.tag === 'BOOL') {
    const dst = hostBytes(out)
    // Kernels expect 0/1; any other non-zero byte still means true.
    for (let i = 0; i < n; i++) dst[i] = bytes[i] !== 0 ? 1 : 0
  } else {
    hostBytes(out).set(bytes)
  }
  return out
}

const bfloat16Scratch = new DataView(new ArrayBuffer(4))
function bfloat16ToFloat(bits: number): number {
  bfloat16Scratch.setUint32(0, bits << 16, true)
  return bfloat16Scratch.getFloat32(0, true)
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24
  if (exp === 31) return frac ? NaN : sign * Infinity
  return sign * (1 + frac / 1024) * 2 ** (exp - 15)
}

/** Parses a safetensors image; `source` names it in errors (a path, or '<buffer>'). */
export function deserialize(buffer: Uint8Array, source = '<buffer>'): SafetensorsContents {
  const { entries, metadata, dataStart } = parseHeader(buffer, source)
  const tensors: Record<string, Tensor> = {}
  try {
    for (const e of entries) tensors[e.name] = decode(e, buffer.subarray(dataStart + e.begin, dataStart + e.end), source)
  } catch (err) {
    for (const t of Object.values(tensors)) t.dispose()
    throw err
  }
  return { tensors, metadata }
}

/** The tensors in a safetensors image (safetensors.torch.load). */
export function load(buffer: Uint8Array): Record<string, Tensor> {
  return deserialize(buffer).tensors
}

/** Tensors and metadata of a safetensors file. */
export function readFile(path: string): SafetensorsContents {
  return deserialize(fs.readFileSync(path), path)
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

function plan(tensors: Record<string, Tensor>, metadata: Metadata | undefined, op: string): { header: Buffer; items: Planned[]; dataLen: number } {
  if (tensors === null || typeof tensors !== 'object') throw new Error(`${op}: 'tensors' must be an object of name -> Tensor`)
  const header: Record<string, unknown> = {}
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object') throw new Error(`${op}: 'metadata' must be an object of strings`)
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string') throw new Error(`${op}: metadata value for '${k}' must be a string, got ${typeof v}`)
    if (Object.keys(metadata).length) header.__metadata__ = metadata
  }
  // Largest element first keeps every tensor aligned to its element size, as the reference writer does.
  const items = Object.entries(tensors)
    .map(([name, tensor]) => {
      if (name === '' || name === '__metadata__') throw new Error(`${op}: '${name}' cannot be a tensor name`)
      if (!(tensor instanceof Tensor)) throw new Error(`${op}: '${name}' must be a Tensor, got ${tensor === null ? 'null' : typeof tensor}`)
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

/** A tensor's bytes in row-major order: its own memory when it already is a contiguous CPU tensor. */
function tensorBytes(t: Tensor): Uint8Array {
  if (t.device === 'cpu' && t.isContiguous()) return hostBytes(t)
  const host = t.data()
  return new Uint8Array(host.buffer, host.byteOffset, host.byteLength)
}

/** The safetensors image of `tensors` (safetensors.torch.save). */
export function serialize(tensors: Record<string, Tensor>, metadata?: Metadata): Buffer {
  const { header, items, dataLen } = plan(tensors, metadata, 'serialize')
  const out = Buffer.allocUnsafe(header.length + dataLen)
  header.copy(out, 0)
  let at = header.length
  for (const { tensor } of items) {
    const b = tensorBytes(tensor)
    out.set(b, at)
    at += b.length
  }
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
    // Tensor by tensor, so a large model is never copied into one big buffer.
    for (const { tensor } of items) write(tensorBytes(tensor))
  })
}
