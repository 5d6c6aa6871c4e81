// Text augmentation in the style of EDA (Wei & Zou, 2019): synonym replacement, swaps of
// neighbouring words and random deletion. DeCLIP pairs each image with its caption and one such
// augmented copy. The synonym table covers the world's vocabulary plus common caption words.

import type { Rng } from './rng'

export interface CaptionAugmentOptions {
  /** Probability that a word with known synonyms is replaced. Default 0.3. */
  synonym?: number
  /** Probability, per neighbouring pair, that the two words swap. Default 0.1. */
  swap?: number
  /** Probability that a word is deleted (at least one word always stays). Default 0.1. */
  deletion?: number
}

export const SYNONYMS: Record<string, string[]> = {
  circle: ['disc', 'round dot'],
  ring: ['hoop', 'donut'],
  ellipse: ['oval'],
  crescent: ['moon shape'],
  square: ['box shape'],
  star: ['star shape'],
  cross: ['plus sign'],
  heart: ['heart shape'],
  arrow: ['pointer'],
  small: ['little', 'tiny'],
  large: ['big', 'huge'],
  striped: ['stripy', 'lined'],
  dotted: ['spotted', 'polka-dot'],
  checkered: ['chequered', 'checked'],
  picture: ['photo', 'image'],
  photo: ['picture', 'snapshot'],
  image: ['picture', 'photo'],
  above: ['over'],
  below: ['under', 'beneath'],
  scene: ['picture', 'view'],
  objects: ['things', 'items'],
  showing: ['depicting', 'with'],
}

export function augmentCaptionText(caption: string, rng: Rng, options: CaptionAugmentOptions = {}): string {
  const { synonym = 0.3, swap = 0.1, deletion = 0.1 } = options
  for (const [k, v] of Object.entries({ synonym, swap, deletion })) {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`augmentCaption: ${k} must be in [0, 1], got ${v}`)
  }
  let words = caption.split(/\s+/).filter((w) => w !== '')
  if (words.length === 0) return caption
  words = words.map((w) => {
    const bare = w.replace(/[^a-z-]/gi, '')
    const choices = SYNONYMS[bare.toLowerCase()]
    return choices && rng.next() < synonym ? w.replace(bare, rng.pick(choices)) : w
  })
  for (let i = 0; i + 1 < words.length; i++) {
    if (rng.next() < swap) {
      ;[words[i], words[i + 1]] = [words[i + 1], words[i]]
      i++
    }
  }
  const kept = words.filter(() => !(rng.next() < deletion))
  return (kept.length > 0 ? kept : [words[rng.int(0, words.length)]]).join(' ')
}
