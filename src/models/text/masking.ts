// BERT/DeCLIP masking for masked language modelling: each real token (not [PAD] or [CLS]) is
// chosen with probability `prob`; a chosen token becomes [MASK] 80% of the time, a random
// vocabulary token 10%, and stays 10%. Labels hold the original id where chosen, else -100
// (crossEntropy's default ignoreIndex).
import { tensor } from '../../tensor/creation'
import { defaultGenerator, type Generator } from '../../tensor/random'
import { shapeStr } from '../../tensor/shape'
import type { Tensor } from '../../tensor/tensor'
import type { Tokenizer } from './tokenizer'

export const IGNORE_INDEX = -100

export interface MaskOptions {
  prob?: number
  generator?: Generator
}

export function maskTokens(
  inputIds: Tensor,
  tokenizer: Tokenizer,
  opts: MaskOptions = {},
): { inputIds: Tensor; labels: Tensor } {
  if (inputIds.dtype !== 'int32' || inputIds.ndim !== 2)
    throw new Error(`maskTokens: expected int32 ids [N, L], got ${inputIds.dtype} ${shapeStr(inputIds.shape)}`)
  const prob = opts.prob ?? 0.15
  if (!(prob >= 0 && prob <= 1)) throw new Error(`maskTokens: prob must be in [0, 1], got ${prob}`)
  const g = opts.generator ?? defaultGenerator
  const ids = Int32Array.from(inputIds.data() as Int32Array)
  const labels = new Int32Array(ids.length).fill(IGNORE_INDEX)
  const firstWord = tokenizer.numSpecial
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === tokenizer.padId || ids[i] === tokenizer.clsId || g.random() >= prob) continue
    labels[i] = ids[i]
    const r = g.random()
    if (r < 0.8) ids[i] = tokenizer.maskId
    else if (r < 0.9 && tokenizer.vocabSize > firstWord) ids[i] = g.integer(firstWord, tokenizer.vocabSize)
  }
  return { inputIds: tensor(ids, { shape: inputIds.shape }), labels: tensor(labels, { shape: inputIds.shape }) }
}
