// Captions for world scenes: objects with their attributes and one spatial relation, through
// several paraphrase templates so that a text encoder cannot key on one fixed sentence form.
// Only objects a viewer can see (not ignored) are named.

import type { Rng } from '../rng'
import { COLOUR_NAMES, SHAPE_NAMES, TEXTURE_NAMES } from './concepts'
import type { BackgroundKind, RenderedObject } from './render'

const COUNT_WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six']
const BACKGROUND_WORDS: Record<BackgroundKind, string> = {
  gradient: 'gradient',
  clouds: 'cloudy',
  tiles: 'tiled',
  bands: 'banded',
  fashion: 'patterned',
}
const RELATION_WORDS = {
  left: ['left of', 'to the left of'],
  right: ['right of', 'to the right of'],
  above: ['above', 'over'],
  below: ['below', 'under', 'beneath'],
  front: ['in front of'],
  behind: ['behind'],
} as const
export type Relation = keyof typeof RELATION_WORDS

/** Size words from apparent radius relative to the image. */
export function sizeWord(o: RenderedObject, imageSize: number): 'small' | 'large' | '' {
  const r = o.radius / imageSize
  return r < 0.1 ? 'small' : r > 0.2 ? 'large' : ''
}

export function objectPhrase(o: RenderedObject, imageSize: number, withSize: boolean): string {
  const words = [
    withSize ? sizeWord(o, imageSize) : '',
    COLOUR_NAMES[o.colour],
    o.texture === 0 ? '' : TEXTURE_NAMES[o.texture],
    SHAPE_NAMES[o.shape],
  ].filter((w) => w !== '')
  return `${/^[aeiou]/.test(words[0]) ? 'an' : 'a'} ${words.join(' ')}`
}

/** How `a` stands relative to `b` as the image shows it. */
export function relation(a: RenderedObject, b: RenderedObject): Relation {
  const [ax0, ay0, ax1, ay1] = a.box
  const [bx0, by0, bx1, by1] = b.box
  const overlap = ax0 < bx1 && bx0 < ax1 && ay0 < by1 && by0 < ay1
  if (overlap && Math.abs(a.depth - b.depth) > 1) return a.depth < b.depth ? 'front' : 'behind'
  const dx = (ax0 + ax1 - bx0 - bx1) / 2
  const dy = (ay0 + ay1 - by0 - by1) / 2
  if (Math.abs(dx) >= Math.abs(dy)) return dx < 0 ? 'left' : 'right'
  return dy < 0 ? 'above' : 'below'
}

function joinList(items: string[]): string {
  return items.length === 1 ? items[0] : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`
}

export function makeCaption(rng: Rng, named: RenderedObject[], background: BackgroundKind, imageSize: number): string {
  const bg = BACKGROUND_WORDS[background]
  if (named.length === 0) return rng.pick([`an empty ${bg} background`, `a ${bg} background with nothing on it`])
  const phrases = named.map((o) => objectPhrase(o, imageSize, rng.bool(0.7)))
  if (named.length === 1) {
    const a = phrases[0]
    return rng.pick([
      a,
      `a photo of ${a}`,
      `${a} on a ${bg} background`,
      `there is ${a} in the picture`,
      `an image showing ${a}`,
    ])
  }
  if (rng.bool(0.6)) {
    const [i, j] = pickTwo(rng, named.length)
    const a = phrases[i]
    const b = phrases[j]
    const rel = rng.pick(RELATION_WORDS[relation(named[i], named[j])])
    const core = `${a} ${rel} ${b}`
    return rng.pick([core, `a picture of ${core}`, `there is ${core}`, `in this image, ${core}`])
  }
  const count = COUNT_WORDS[named.length]
  const list = joinList(phrases)
  return rng.pick([`${count} objects: ${list}`, list, `a scene with ${list}`, `${list} on a ${bg} background`])
}

function pickTwo(rng: Rng, n: number): [number, number] {
  // Favour the most prominent objects (named is sorted by visible area).
  const i = rng.bool(0.7) ? 0 : rng.int(0, n)
  let j = rng.int(0, n - 1)
  if (j >= i) j++
  return [i, j]
}
