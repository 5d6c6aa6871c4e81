// Tokenizer (vocabulary, round trips, batches), MLM masking, and the text encoder: padding
// must not change the real tokens' outputs, and the MLM loss must fall when trained.
import t from 'tap'
import { Generator, manualSeed, tensor } from '../../src'
import { AdamW } from '../../src/optim'
import { IGNORE_INDEX, maskTokens, TextEncoder, Tokenizer } from '../../src/models/text'

const corpus = [
  'a red circle left of a blue square.',
  'a blue square above a green triangle',
  "the triangle's colour is green, not red",
]

t.test('word-level vocabulary: specials first, then by frequency', async (t) => {
  const tok = Tokenizer.fromCorpus(corpus)
  t.same(tok.vocab.slice(0, 6), ['[PAD]', '[CLS]', '[MASK]', '[UNK]', 'a', 'blue'])
  t.same(tok.split("The triangle's colour, red."), ['the', "triangle's", 'colour', ',', 'red', '.'])
  const ids = tok.encode('A red circle above a purple square!')
  t.equal(ids[0], tok.clsId)
  t.equal(ids.filter((i) => i === tok.unkId).length, 2, 'purple and ! are unknown')
  t.equal(tok.decode(tok.encode('a red circle left of a blue square.')), 'a red circle left of a blue square .')
  t.equal(tok.decode(tok.encode('A RED circle'), { skipSpecial: false }), '[CLS] a red circle')
  t.same(
    Tokenizer.fromCorpus(corpus, { minFreq: 2 }).vocab.slice(4),
    ['a', 'blue', 'green', 'red', 'square'],
    'minFreq keeps tokens seen twice',
  )
  t.equal(Tokenizer.fromCorpus(corpus, { maxVocab: 6 }).vocabSize, 6)
  const back = Tokenizer.fromJSON(JSON.parse(JSON.stringify(tok)))
  t.same(back.encode(corpus[2]), tok.encode(corpus[2]), 'JSON round trip')
  t.throws(() => tok.decode([tok.vocabSize]), /outside the vocabulary/)
  t.throws(() => new Tokenizer(['a', 'b']), /must start with \[PAD\] \[CLS\] \[MASK\] \[UNK\]/)
})

t.test('char-level round trip keeps case and spacing', async (t) => {
  const tok = Tokenizer.fromCorpus(corpus, { level: 'char' })
  const s = 'A blue, red square'
  t.equal(tok.decode(tok.encode(s)), ' blue, red square', 'capital A is not in the corpus: [UNK], dropped by decode')
  t.equal(tok.decode(tok.encode(s), { skipSpecial: false }), '[CLS][UNK] blue, red square')
  t.equal(tok.decode(tok.encode('a blue square')), 'a blue square')
})

t.test('encodeBatch pads and masks', async (t) => {
  const tok = Tokenizer.fromCorpus(corpus)
  const { inputIds, attentionMask } = tok.encodeBatch(['a red circle', 'a blue square above a green triangle'], {
    maxLength: 6,
  })
  t.same(inputIds.shape, [2, 6])
  t.equal(inputIds.dtype, 'int32')
  t.same(Array.from(attentionMask.data()), [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1])
  t.same(Array.from(inputIds.data()).slice(4, 6), [tok.padId, tok.padId])
})

t.test('maskTokens: 15% of real tokens, 80/10/10, specials untouched', async (t) => {
  const tok = Tokenizer.fromCorpus(corpus)
  const rows = 200
  const L = 12
  const ids = new Int32Array(rows * L)
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < L; j++)
      ids[i * L + j] = j === 0 ? tok.clsId : j >= 10 ? tok.padId : 4 + ((i + j) % (tok.vocabSize - 4))
  const { inputIds, labels } = maskTokens(tensor(ids, { shape: [rows, L] }), tok, { generator: new Generator(7) })
  const out = inputIds.data()
  const lab = labels.data()
  let chosen = 0
  let masked = 0
  let wrong = 0
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < tok.numSpecial && (lab[i] !== IGNORE_INDEX || out[i] !== ids[i])) wrong++ // specials are never chosen
    if (lab[i] === IGNORE_INDEX) continue
    chosen++
    if (lab[i] !== ids[i]) wrong++ // the label is the original token
    if (out[i] === tok.maskId) masked++
  }
  t.equal(wrong, 0, 'specials untouched; labels hold the original ids')
  const real = rows * 9
  t.ok(Math.abs(chosen / real - 0.15) < 0.03, `chose ${((100 * chosen) / real).toFixed(1)}% of real tokens`)
  t.ok(Math.abs(masked / chosen - 0.8) < 0.08, `${((100 * masked) / chosen).toFixed(1)}% of the chosen became [MASK]`)
})

t.test('text encoder: count, padding invariance, MLM loss falls', async (t) => {
  manualSeed(5)
  const tok = Tokenizer.fromCorpus(corpus)
  const opts = { vocabSize: tok.vocabSize, maxLength: 16, width: 32, depth: 2, numHeads: 4 }
  const enc = new TextEncoder(opts)
  t.equal(enc.numParameters(), TextEncoder.countParameters(opts))
  enc.eval()
  const short = tok.encodeBatch([corpus[1]])
  const padded = tok.encodeBatch([corpus[1]], { maxLength: 14 })
  const L = short.inputIds.shape[1]
  const a = Array.from(enc.forward(short.inputIds, short.attentionMask).data())
  const b = Array.from(enc.forward(padded.inputIds, padded.attentionMask).narrow(1, 0, L).data())
  t.ok(
    a.every((v, i) => Math.abs(v - b[i]) < 1e-5),
    'padding keys are ignored',
  )
  const unmasked = Array.from(enc.forward(padded.inputIds).narrow(1, 0, L).data())
  t.ok(
    unmasked.some((v, i) => Math.abs(v - b[i]) > 1e-4),
    'without the mask, padding changes the outputs',
  )
  t.same(enc.encode(short.inputIds, short.attentionMask).shape, [1, 32])
  t.throws(() => enc.forward(tensor(new Int32Array(20), { shape: [1, 20] })), /sequence length 20 exceeds maxLength 16/)

  enc.train()
  const batch = tok.encodeBatch(corpus, { maxLength: 12 })
  const { inputIds, labels } = maskTokens(batch.inputIds, tok, { prob: 0.3, generator: new Generator(1) })
  const opt = new AdamW(enc.parameters(), { lr: 3e-3 })
  const losses: number[] = []
  for (let i = 0; i < 30; i++) {
    opt.zeroGrad()
    const loss = enc.mlmLoss(inputIds, batch.attentionMask, labels)
    loss.backward()
    opt.step()
    losses.push(loss.item())
  }
  t.ok(losses[29] < losses[0] * 0.5, `MLM loss ${losses[0].toFixed(3)} -> ${losses[29].toFixed(3)}`)
})
