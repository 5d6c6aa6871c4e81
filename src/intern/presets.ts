// Presets: the settings of every upstream stage, as data. `cpu-quick` runs the whole upstream
// (Up-A, the C, D and S experts, Up-G C-D and C-D-S) in minutes on two cores; `cpu-full` is the
// same pipeline about ten times longer; the `paper-*` presets use the paper's backbones at 224 px
// with batch sizes and step counts of the order public recipes use (the paper publishes none),
// for GPUs. Every stage's sources are registered upstream sources (src/data/gvd/upstream.ts).
import type { ExpertType } from './stage-io'

export interface StagePreset {
  backbone: string
  imageSize: number
  steps: number
  batchSize: number
  lr: number
  /** Upstream sources; a generalist takes its experts' sources instead. */
  sources: string[]
}

export interface Preset {
  name: string
  description: string
  amateur: StagePreset
  experts: Record<ExpertType, StagePreset>
  generalist: Omit<StagePreset, 'sources'>
}

const IMAGE_TEXT = ['up-image-text']
const SOURCES: Record<ExpertType, string[]> = {
  C: ['up-cls-shape-lt', 'up-cls-colour', 'up-cls-family'],
  D: ['up-det-round-polygon', 'up-det-symbol'],
  S: ['up-seg-family'],
}

type Settings = Omit<StagePreset, 'backbone' | 'imageSize' | 'sources'>

function preset(
  name: string,
  description: string,
  backbone: string,
  imageSize: number,
  s: { amateur: Settings; experts: Record<ExpertType, Settings>; generalist: Settings },
): Preset {
  const stage = (settings: Settings, sources: string[]): StagePreset => ({ backbone, imageSize, ...settings, sources })
  return {
    name,
    description,
    amateur: stage(s.amateur, IMAGE_TEXT),
    experts: { C: stage(s.experts.C, SOURCES.C), D: stage(s.experts.D, SOURCES.D), S: stage(s.experts.S, SOURCES.S) },
    generalist: { backbone, imageSize, ...s.generalist },
  }
}

/** A paper-scale preset: the same settings for every backbone, so the backbones compare. */
function paper(name: string, backbone: string): Preset {
  return preset(name, `${backbone} at 224 px, paper-scale batches and steps (GPU)`, backbone, 224, {
    amateur: { steps: 100_000, batchSize: 4096, lr: 1e-3 },
    experts: {
      C: { steps: 100_000, batchSize: 1024, lr: 1e-3 },
      D: { steps: 90_000, batchSize: 32, lr: 1e-4 },
      S: { steps: 80_000, batchSize: 16, lr: 1e-4 },
    },
    generalist: { steps: 50_000, batchSize: 512, lr: 1e-4 },
  })
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  'cpu-quick': preset(
    'cpu-quick',
    'the whole upstream in minutes on 2 CPU cores: mn-t at 32 px, at most 200 steps a stage',
    'mn-t',
    32,
    {
      amateur: { steps: 200, batchSize: 32, lr: 2e-3 },
      experts: {
        C: { steps: 200, batchSize: 32, lr: 2e-3 },
        D: { steps: 150, batchSize: 16, lr: 1e-3 },
        S: { steps: 150, batchSize: 16, lr: 2e-3 },
      },
      generalist: { steps: 100, batchSize: 24, lr: 5e-4 },
    },
  ),
  'cpu-full': preset(
    'cpu-full',
    'cpu-quick ten times longer: mn-t at 32 px, about an hour on 2 CPU cores',
    'mn-t',
    32,
    {
      amateur: { steps: 2000, batchSize: 32, lr: 2e-3 },
      experts: {
        C: { steps: 2000, batchSize: 32, lr: 2e-3 },
        D: { steps: 1500, batchSize: 16, lr: 1e-3 },
        S: { steps: 1500, batchSize: 16, lr: 2e-3 },
      },
      generalist: { steps: 1000, batchSize: 24, lr: 5e-4 },
    },
  ),
  'paper-r50': paper('paper-r50', 'resnet50'),
  'paper-mn-b4': paper('paper-mn-b4', 'mn-b4'),
  'paper-mn-b15': paper('paper-mn-b15', 'mn-b15'),
}

export function getPreset(name: string): Preset {
  const p = PRESETS[name]
  if (!p) throw new Error(`unknown preset '${name}'; known: ${Object.keys(PRESETS).join(', ')}`)
  return p
}
