// Training checkpoints as one safetensors file: the model's state dict under `model.<key>`
// (so the weights load with any safetensors reader), every other tensor (optimizer moments,
// tensors in `extra`) under `<section>.<n>`, and the rest (step, RNG state, the optimizer's
// hyper-parameters, extra) as JSON in the `__metadata__` entry. Saving is atomic.
import { Tensor } from '../tensor/tensor'
import { readFile, saveFile } from './safetensors'

/** A JSON-like tree that may hold Tensors anywhere (an optimizer's state dict, say). */
export type TreeValue = null | boolean | number | string | Tensor | TreeValue[] | { [key: string]: TreeValue }

export interface Checkpoint {
  /** The model's state dict (Module.stateDict()). */
  model: Record<string, Tensor>
  // The fields below take JSON-like values with Tensors anywhere in them (checked when
  // saving) and come back as TreeValues: cast them to what was saved.
  /** The optimizer's state (its stateDict()), tensors included. */
  optimizer?: unknown
  step: number
  /** Random generator state, e.g. defaultGenerator.getState(). */
  rng?: unknown
  /** Anything else to restore: epoch, best metric, schedule state, ... */
  extra?: unknown
}

const META_KEY = 'intern-vision.checkpoint'
const VERSION = 1
const SECTIONS = ['optimizer', 'rng', 'extra'] as const

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** Sets an own property, even one named '__proto__' (plain assignment would set the prototype). */
function setOwn<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true })
}

/** Replaces each Tensor by {__tensor__: key} (storing it in `out`), and non-finite numbers by {__number__}. */
interface Sink {
  section: string
  count: number
  out: Record<string, Tensor>
}

function encode(v: unknown, where: string, sink: Sink): Json {
  if (v instanceof Tensor) {
    const key = `${sink.section}.${sink.count++}`
    sink.out[key] = v
    return { __tensor__: key }
  }
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v
  if (typeof v === 'number') return Number.isFinite(v) ? v : { __number__: String(v) }
  if (Array.isArray(v)) return v.map((x, i) => encode(x, `${where}[${i}]`, sink))
  if (isPlainObject(v)) {
    const o: Record<string, Json> = {}
    for (const [k, x] of Object.entries(v)) {
      if (k === '__tensor__' || k === '__number__')
        throw new Error(`saveCheckpoint: ${where} uses the reserved key '${k}'`)
      if (x !== undefined) setOwn(o, k, encode(x, `${where}.${k}`, sink))
    }
    return o
  }
  const kind =
    v === undefined ? 'undefined' : typeof v === 'object' ? ((v as object).constructor?.name ?? 'object') : typeof v
  throw new Error(
    `saveCheckpoint: ${where} is a ${kind}; checkpoints hold JSON values (null, booleans, numbers, strings, arrays, plain objects) and Tensors`,
  )
}

function decode(v: Json, tensors: Record<string, Tensor>, used: Set<string>, source: string): TreeValue {
  if (Array.isArray(v)) return v.map((x) => decode(x, tensors, used, source))
  if (v === null || typeof v !== 'object') return v
  const keys = Object.keys(v)
  if (keys.length === 1 && keys[0] === '__tensor__') {
    const key = v.__tensor__ as string
    if (typeof key !== 'string' || !Object.hasOwn(tensors, key))
      throw new Error(`loadCheckpoint: ${source}: the metadata refers to tensor '${key}', which the file lacks`)
    used.add(key)
    return tensors[key]
  }
  if (keys.length === 1 && keys[0] === '__number__') return Number(v.__number__)
  const o: Record<string, TreeValue> = {}
  for (const k of keys) setOwn(o, k, decode(v[k], tensors, used, source))
  return o
}

/** Saves a checkpoint to `path` atomically (temporary file, fsync, rename). */
export function saveCheckpoint(path: string, ckpt: Checkpoint): void {
  if (!isPlainObject(ckpt)) throw new Error('saveCheckpoint: expected {model, optimizer?, step, rng?, extra?}')
  if (!Number.isFinite(ckpt.step))
    throw new Error(`saveCheckpoint: step must be a finite number, got ${String(ckpt.step)}`)
  if (!isPlainObject(ckpt.model))
    throw new Error('saveCheckpoint: model must be a state dict (an object of name -> Tensor)')
  const tensors: Record<string, Tensor> = Object.create(null)
  for (const [k, v] of Object.entries(ckpt.model)) {
    if (!(v instanceof Tensor))
      throw new Error(`saveCheckpoint: model['${k}'] must be a Tensor, got ${v === null ? 'null' : typeof v}`)
    tensors[`model.${k}`] = v
  }
  const meta: Record<string, Json> = { version: VERSION, step: ckpt.step, modelKeys: Object.keys(ckpt.model) }
  for (const s of SECTIONS)
    if (ckpt[s] !== undefined) meta[s] = encode(ckpt[s], s, { section: s, count: 0, out: tensors })
  saveFile(path, tensors, { [META_KEY]: JSON.stringify(meta) })
}

/** Loads a checkpoint written by saveCheckpoint; tensors come back on the CPU. */
export function loadCheckpoint(path: string): Checkpoint {
  const { tensors, metadata } = readFile(path)
  try {
    return assemble(path, tensors, metadata[META_KEY])
  } catch (e) {
    for (const t of Object.values(tensors)) t.dispose()
    throw e
  }
}

function assemble(path: string, tensors: Record<string, Tensor>, raw: string | undefined): Checkpoint {
  if (raw === undefined)
    throw new Error(`loadCheckpoint: ${path}: not an intern-vision checkpoint (no '${META_KEY}' metadata)`)
  let meta: { version?: unknown; step?: unknown; modelKeys?: unknown } & Record<string, Json>
  try {
    meta = JSON.parse(raw)
  } catch (e) {
    throw new Error(`loadCheckpoint: ${path}: the checkpoint metadata is not valid JSON (${(e as Error).message})`)
  }
  if (!isPlainObject(meta)) throw new Error(`loadCheckpoint: ${path}: the checkpoint metadata must be a JSON object`)
  if (meta.version !== VERSION)
    throw new Error(
      `loadCheckpoint: ${path}: unsupported checkpoint version ${JSON.stringify(meta.version)} (this build reads ${VERSION})`,
    )
  if (
    typeof meta.step !== 'number' ||
    !Array.isArray(meta.modelKeys) ||
    meta.modelKeys.some((k) => typeof k !== 'string')
  )
    throw new Error(`loadCheckpoint: ${path}: the checkpoint metadata lacks step or a list of modelKeys`)
  const used = new Set<string>()
  // The model's keys come back in the order they were saved (safetensors sorts its entries).
  const model: Record<string, Tensor> = {}
  for (const k of meta.modelKeys as string[]) {
    const t = tensors[`model.${k}`]
    if (!t) throw new Error(`loadCheckpoint: ${path}: model tensor '${k}' is missing from the file`)
    setOwn(model, k, t)
    used.add(`model.${k}`)
  }
  const out: Checkpoint = { model, step: meta.step }
  for (const s of SECTIONS) if (meta[s] !== undefined) out[s] = decode(meta[s], tensors, used, path)
  const stray = Object.keys(tensors).filter((k) => !used.has(k))
  if (stray.length)
    throw new Error(`loadCheckpoint: ${path}: tensors not referenced by the checkpoint metadata: ${stray.join(', ')}`)
  return out
}
