// A word- or character-level tokenizer with a vocabulary built from a corpus. Ids 0-3 are
// the specials [PAD] [CLS] [MASK] [UNK]; the rest are tokens by frequency (ties
// alphabetical), so the same corpus always gives the same ids. Word level lowercases (by
// default) and splits into words and single punctuation marks; decode joins them with
// spaces, so decode(encode(s)) is s in that normal form.
import { tensor } from '../../tensor/creation'
import type { Tensor } from '../../tensor/tensor'

export type TokenizerLevel = 'word' | 'char'

export interface TokenizerOptions {
  level?: TokenizerLevel
  lowercase?: boolean
  /** Tokens seen fewer times are left out (they encode as [UNK]). */
  minFreq?: number
  /** The vocabulary's size limit, specials included. */
  maxVocab?: number
}

export interface EncodeOptions {
  /** Prepend [CLS] (default true). */
  addCls?: boolean
  /** Truncate to this many ids. */
  maxLength?: number
}

export interface EncodedBatch {
  /** int32 [N, L], padded with [PAD]. */
  inputIds: Tensor
  /** int32 [N, L]: 1 for tokens, 0 for padding. */
  attentionMask: Tensor
}

export const SPECIAL_TOKENS = ['[PAD]', '[CLS]', '[MASK]', '[UNK]'] as const
const WORD = /[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu

export class Tokenizer {
  readonly padId = 0
  readonly clsId = 1
  readonly maskId = 2
  readonly unkId = 3
  readonly numSpecial = SPECIAL_TOKENS.length
  readonly #ids: Map<string, number>

  constructor(
    readonly vocab: readonly string[],
    readonly level: TokenizerLevel = 'word',
    readonly lowercase = true,
  ) {
    if (level !== 'word' && level !== 'char')
      throw new Error(`Tokenizer: level must be 'word' or 'char', got '${String(level)}'`)
    SPECIAL_TOKENS.forEach((s, i) => {
      if (vocab[i] !== s)
        throw new Error(
          `Tokenizer: the vocabulary must start with ${SPECIAL_TOKENS.join(' ')}, got '${vocab[i]}' at ${i}`,
        )
    })
    this.#ids = new Map(vocab.map((t, i) => [t, i]))
    if (this.#ids.size !== vocab.length) throw new Error('Tokenizer: the vocabulary has duplicate tokens')
  }

  static fromCorpus(texts: Iterable<string>, opts: TokenizerOptions = {}): Tokenizer {
    const level = opts.level ?? 'word'
    const lowercase = opts.lowercase ?? level === 'word'
    const minFreq = opts.minFreq ?? 1
    const maxVocab = opts.maxVocab ?? Infinity
    if (maxVocab < SPECIAL_TOKENS.length)
      throw new Error(
        `Tokenizer.fromCorpus: maxVocab ${maxVocab} leaves no room for the ${SPECIAL_TOKENS.length} special tokens`,
      )
    const probe = new Tokenizer([...SPECIAL_TOKENS], level, lowercase)
    const counts = new Map<string, number>()
    for (const text of texts) for (const tok of probe.split(text)) counts.set(tok, (counts.get(tok) ?? 0) + 1)
    const specials = new Set<string>(SPECIAL_TOKENS)
    const tokens = [...counts]
      .filter(([tok, n]) => n >= minFreq && !specials.has(tok))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, maxVocab - SPECIAL_TOKENS.length)
      .map(([tok]) => tok)
    return new Tokenizer([...SPECIAL_TOKENS, ...tokens], level, lowercase)
  }

  get vocabSize(): number {
    return this.vocab.length
  }

  /** The tokens of a text, before lookup. */
  split(text: string): string[] {
    const s = this.lowercase ? text.toLowerCase() : text
    return this.level === 'char' ? Array.from(s) : (s.match(WORD) ?? [])
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = this.split(text).map((t) => this.#ids.get(t) ?? this.unkId)
    const out = (opts.addCls ?? true) ? [this.clsId, ...ids] : ids
    return opts.maxLength === undefined ? out : out.slice(0, opts.maxLength)
  }

  /** Tokens joined by spaces (word level) or nothing (char level); specials dropped unless skipSpecial is false. */
  decode(ids: Iterable<number>, opts: { skipSpecial?: boolean } = {}): string {
    const skip = opts.skipSpecial ?? true
    const toks: string[] = []
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocab.length)
        throw new Error(`Tokenizer.decode: id ${id} is outside the vocabulary of ${this.vocab.length}`)
      if (skip && id < this.numSpecial) continue
      toks.push(this.vocab[id])
    }
    return toks.join(this.level === 'word' ? ' ' : '')
  }

  /** Encodes texts to one padded batch; L is maxLength, or the longest text when omitted. */
  encodeBatch(texts: readonly string[], opts: EncodeOptions = {}): EncodedBatch {
    if (texts.length === 0) throw new Error('Tokenizer.encodeBatch: no texts')
    const rows = texts.map((t) => this.encode(t, opts))
    const L = opts.maxLength ?? Math.max(...rows.map((r) => r.length))
    const ids = new Int32Array(rows.length * L).fill(this.padId)
    const mask = new Int32Array(rows.length * L)
    rows.forEach((r, i) =>
      r.forEach((id, j) => {
        ids[i * L + j] = id
        mask[i * L + j] = 1
      }),
    )
    return {
      inputIds: tensor(ids, { shape: [rows.length, L] }),
      attentionMask: tensor(mask, { shape: [rows.length, L] }),
    }
  }

  toJSON(): { level: TokenizerLevel; lowercase: boolean; vocab: string[] } {
    return { level: this.level, lowercase: this.lowercase, vocab: [...this.vocab] }
  }

  static fromJSON(json: { level: TokenizerLevel; lowercase: boolean; vocab: string[] }): Tokenizer {
    return new Tokenizer(json.vocab, json.level, json.lowercase)
  }
}
