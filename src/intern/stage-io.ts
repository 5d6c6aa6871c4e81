// What every upstream stage leaves in its folder, and how a later stage or the benchmark reads
// it back. A stage folder holds:
//   model.safetensors       the stage module's state dict (its image backbone under `backbone.`)
//   card.json               a StageCard: what was trained, on what, from which parents, how long
//   checkpoint.safetensors  fit()'s resumable state while the stage runs
//   log.jsonl               one line per logged step
// The card is written last, so a folder with a card is a finished stage.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { atomicWrite } from '../io/atomic'
import { loadFile, saveFile } from '../io/safetensors'
import type { Module } from '../nn'
import { createModel, type Backbone } from '../models/zoo'
import type { Tensor } from '../tensor/tensor'

export type StageKind = 'amateur' | 'expert' | 'generalist' | 'baseline'
export type ExpertType = 'C' | 'D' | 'S'

export interface StageCard {
  /** e.g. 'amateur', 'expert-C', 'generalist-C-D', 'baseline-sup-single'. */
  name: string
  kind: StageKind
  /** The package version that trained it. */
  version: string
  /** Zoo name (or MetaNet config file) of the image backbone. */
  backbone: string
  imageSize: number
  /** Registered GV-D sources the stage trained on. */
  sources: string[]
  steps: number
  batchSize: number
  seconds: number
  /** The last logged value of each loss term. */
  finalLosses: Record<string, number>
  /** Stage folders this one started from (e.g. an expert's amateur). */
  parents: { role: string; dir: string }[]
  /** For a generalist: its experts in branch order (the first is the main branch). */
  experts?: { type: ExpertType; dir: string }[]
  /** The stage's own options, for the record. */
  config: Record<string, unknown>
  createdAt: string
}

export const MODEL_FILE = 'model.safetensors'
export const CARD_FILE = 'card.json'
export const CHECKPOINT_FILE = 'checkpoint.safetensors'
export const LOG_FILE = 'log.jsonl'

/** Writes model.safetensors, then card.json (both atomically), so a card means a whole stage. */
export function saveStage(dir: string, model: Module, card: StageCard): void {
  fs.mkdirSync(dir, { recursive: true })
  saveFile(path.join(dir, MODEL_FILE), model.stateDict(), {
    'intern.stage': card.name,
    'intern.backbone': card.backbone,
  })
  const text = JSON.stringify(card, null, 2) + '\n'
  atomicWrite(path.join(dir, CARD_FILE), (write) => write(Buffer.from(text)))
}

/** The card of a finished stage, with a clear error when the folder holds none. */
export function readStageCard(dir: string): StageCard {
  const file = path.join(dir, CARD_FILE)
  if (!fs.existsSync(file)) throw new Error(`readStageCard: '${dir}' holds no finished stage (no ${CARD_FILE})`)
  let card: StageCard
  try {
    card = JSON.parse(fs.readFileSync(file, 'utf8')) as StageCard
  } catch (e) {
    throw new Error(`readStageCard: '${file}' is not valid JSON: ${(e as Error).message}`)
  }
  for (const key of ['name', 'kind', 'backbone', 'imageSize'] as const) {
    if (card[key] === undefined) throw new Error(`readStageCard: '${file}' has no '${key}'`)
  }
  return card
}

/** The tensors of a finished stage's model whose names start with `prefix`, with it removed. */
export function readStageWeights(dir: string, prefix = ''): Record<string, Tensor> {
  readStageCard(dir)
  const all = loadFile(path.join(dir, MODEL_FILE))
  const out: Record<string, Tensor> = Object.create(null) as Record<string, Tensor>
  for (const [k, v] of Object.entries(all)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v
  return out
}

/**
 * A fresh zoo backbone with the image encoder of a finished amateur, expert or baseline stage
 * loaded (its `backbone.` tensors). Refuses a stage trained on another architecture.
 */
export function loadStageBackbone(dir: string, expected?: { backbone?: string; inChannels?: number }): Backbone {
  const card = readStageCard(dir)
  if (card.kind === 'generalist') {
    throw new Error(`loadStageBackbone: '${dir}' is a generalist; load it with loadGeneralist()`)
  }
  if (expected?.backbone !== undefined && expected.backbone !== card.backbone) {
    throw new Error(`loadStageBackbone: '${dir}' holds a ${card.backbone} backbone, expected ${expected.backbone}`)
  }
  const model = createModel(card.backbone, { imageSize: card.imageSize, inChannels: expected?.inChannels ?? 3 })
  const weights = readStageWeights(dir, 'backbone.')
  if (Object.keys(weights).length === 0)
    throw new Error(`loadStageBackbone: '${dir}' has no 'backbone.' tensors in ${MODEL_FILE}`)
  try {
    model.loadStateDict(weights)
  } catch (e) {
    throw new Error(`loadStageBackbone: '${dir}' does not fit a ${card.backbone} backbone: ${(e as Error).message}`)
  }
  return model
}
