// Up-A's data: the image-text sources of GV-D (src/data/gvd/upstream.ts), DeCLIP's multi-view
// augmentation, and the caption tokenizer.
import { SYNONYMS } from '../data/caption-augment'
import { listUpstreamSources, upstreamSource } from '../data/gvd/upstream'
import { colorJitter, compose, randomResizedCrop, twoViews, type Transform } from '../data/transforms'
import { checkIndex, type Dataset, type Sample } from '../data/types'
import { Tokenizer } from '../models/text/tokenizer'

/** Every upstream image-text source, the default of trainAmateur's `sources`. */
export function defaultImageTextSources(): string[] {
  return listUpstreamSources('imageText').map((s) => s.name)
}

/** The named image-text sources' `split`, `size` images in all (shared out evenly), one after another. */
export function imageTextDataset(
  sources: string[],
  o: { size: number; imageSize: number; split: 'train' | 'val' },
): Dataset<Sample> {
  const fn = 'imageTextDataset'
  if (sources.length === 0)
    throw new Error(`${fn}: no image-text sources (pass sources, or register an upstream imageText source)`)
  for (const name of sources)
    if (upstreamSource(name).task !== 'imageText')
      throw new Error(`${fn}: '${name}' is a ${upstreamSource(name).task} source, not an image-text one`)
  if (o.size < sources.length)
    throw new Error(`${fn}: size ${o.size} leaves no images for some of the ${sources.length} sources`)
  const parts = sources.map((name, k) => {
    const share = Math.floor(o.size / sources.length) + (k < o.size % sources.length ? 1 : 0)
    return upstreamSource(name).create({ size: share, imageSize: o.imageSize, split: o.split })
  })
  if (parts.length === 1) return parts[0]
  const starts = parts.map((_, k) => parts.slice(0, k).reduce((n, p) => n + p.length, 0))
  return {
    length: o.size,
    info: { ...parts[0].info, name: sources.join('+') },
    get(index: number) {
      checkIndex(`${fn}.get`, index, o.size)
      let k = parts.length - 1
      while (starts[k] > index) k--
      return parts[k].get(index - starts[k])
    },
  }
}

/**
 * DeCLIP's 2 image views x (caption, augmented caption). The views are random resized crops
 * with brightness and contrast jitter, and deliberately no flips, hue or saturation jitter:
 * captions name left/right relations and colours, which those would falsify.
 */
export function amateurViews(imageSize: number): Transform {
  const view = compose([
    randomResizedCrop(imageSize, { scale: [0.6, 1] }),
    colorJitter({ brightness: 0.4, contrast: 0.4 }),
  ])
  return twoViews(view, { caption: {} })
}

/** Captions the vocabulary is built from: the first this many of each source's train split. */
export const VOCABULARY_CAPTIONS = 2000

/**
 * A word tokenizer whose vocabulary is every word of the sources' first VOCABULARY_CAPTIONS
 * training captions plus the caption augmentation's synonym table, so that augmented captions
 * stay in the vocabulary. Deterministic: the same sources give the same ids.
 */
export async function captionTokenizer(sources: string[]): Promise<Tokenizer> {
  const texts: string[] = Object.entries(SYNONYMS).flatMap(([word, alternatives]) => [word, ...alternatives])
  for (const name of sources) {
    const ds = upstreamSource(name).create({ size: VOCABULARY_CAPTIONS, split: 'train' })
    for (let i = 0; i < ds.length; i++) texts.push((await ds.get(i)).caption ?? '')
  }
  return Tokenizer.fromCorpus(texts)
}
