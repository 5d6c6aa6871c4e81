export {
  Tokenizer,
  SPECIAL_TOKENS,
  type TokenizerLevel,
  type TokenizerOptions,
  type EncodeOptions,
  type EncodedBatch,
} from './tokenizer'
export { maskTokens, IGNORE_INDEX, type MaskOptions } from './masking'
export { TextEncoder, MaskedLMHead, type TextEncoderOptions } from './encoder'
