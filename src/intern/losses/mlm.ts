// Masked language modelling (BERT; DeCLIP's text-text term): cross-entropy of the vocabulary
// logits at the masked positions only. Labels hold the original token id where maskTokens
// chose a position and -100 elsewhere (src/models/text/masking.ts: 15% of tokens, 80% [MASK],
// 10% random, 10% kept), so
//   loss = sum over positions with label != -100 of CE(logits_pos, label_pos) / (number of them)
// A batch in which no position was chosen gives 0 with zero gradient (PyTorch's mean would give
// NaN): with 15% masking of short captions that happens, and one such batch must not end a run.
import { IGNORE_INDEX } from '../../models/text/masking'
import { shapeStr } from '../../tensor/shape'
import { Tensor } from '../../tensor/tensor'
import { crossEntropy } from '../../ops'
import { checkFloatTensor } from './check'

export function maskedLanguageModelLoss(logits: Tensor, labels: Tensor): Tensor {
  const fn = 'maskedLanguageModelLoss'
  checkFloatTensor(fn, 'logits', logits)
  if (!(labels instanceof Tensor))
    throw new Error(`${fn}: labels must be a Tensor, got ${labels === null ? 'null' : typeof labels}`)
  if (labels.dtype !== 'int32')
    throw new Error(`${fn}: labels must be int32 token ids (-100 = not masked), got ${labels.dtype}`)
  if (logits.ndim < 2) throw new Error(`${fn}: logits must be [..., vocabSize], got ${shapeStr(logits.shape)}`)
  const V = logits.shape[logits.ndim - 1]
  const lead = logits.shape.slice(0, -1)
  if (labels.ndim !== lead.length || labels.shape.some((n, i) => n !== lead[i]))
    throw new Error(
      `${fn}: labels ${shapeStr(labels.shape)} must be logits ${shapeStr(logits.shape)} without the vocabulary dimension`,
    )
  if (labels.numel === 0) throw new Error(`${fn}: empty batch (labels ${shapeStr(labels.shape)})`)
  let masked = 0
  for (const id of labels.data() as Int32Array) {
    if (id === IGNORE_INDEX) continue
    if (id < 0 || id >= V)
      throw new Error(`${fn}: label ${id} is outside the vocabulary of ${V} (and not ${IGNORE_INDEX})`)
    masked++
  }
  const total = crossEntropy(logits.reshape([-1, V]), labels.reshape([-1]), {
    ignoreIndex: IGNORE_INDEX,
    reduction: 'sum',
  })
  return total.div(Math.max(masked, 1))
}
