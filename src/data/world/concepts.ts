// The procedural world's concepts: shape families -> shapes -> shape x colour x texture. Colour
// and texture are attributes (their own label spaces) rather than levels of the hierarchy, so a
// fine concept's parent is its shape and its grandparent its family.

import { LabelSpace, Taxonomy } from '../labels'

export const FAMILIES = {
  round: ['circle', 'ring', 'ellipse', 'crescent'],
  polygon: ['triangle', 'square', 'pentagon', 'hexagon'],
  symbol: ['star', 'cross', 'heart', 'arrow'],
} as const

export type Family = keyof typeof FAMILIES
export const FAMILY_NAMES = Object.keys(FAMILIES) as Family[]
export const SHAPE_NAMES: string[] = FAMILY_NAMES.flatMap((f) => [...FAMILIES[f]])
/** Family index of each shape index. */
export const SHAPE_FAMILY: number[] = FAMILY_NAMES.flatMap((f, i) => FAMILIES[f].map(() => i))

export const COLOURS: { name: string; rgb: [number, number, number] }[] = [
  { name: 'red', rgb: [0.88, 0.16, 0.14] },
  { name: 'green', rgb: [0.18, 0.68, 0.24] },
  { name: 'blue', rgb: [0.16, 0.32, 0.9] },
  { name: 'yellow', rgb: [0.96, 0.84, 0.16] },
  { name: 'purple', rgb: [0.56, 0.24, 0.76] },
  { name: 'orange', rgb: [0.97, 0.54, 0.08] },
  { name: 'cyan', rgb: [0.12, 0.8, 0.86] },
  { name: 'pink', rgb: [0.97, 0.52, 0.72] },
]
export const COLOUR_NAMES = COLOURS.map((c) => c.name)
export const TEXTURE_NAMES = ['plain', 'striped', 'dotted', 'checkered']

export const MAX_OBJECTS = 6

export type WorldLevel = 'family' | 'shape' | 'fine'

export function fineIndex(shape: number, colour: number, texture: number): number {
  return (shape * COLOURS.length + colour) * TEXTURE_NAMES.length + texture
}

export function fineName(shape: number, colour: number, texture: number): string {
  return `${COLOUR_NAMES[colour]} ${TEXTURE_NAMES[texture]} ${SHAPE_NAMES[shape]}`
}

let cached: WorldLabels | undefined

export interface WorldLabels {
  taxonomy: Taxonomy
  family: LabelSpace
  shape: LabelSpace
  fine: LabelSpace
  colour: LabelSpace
  texture: LabelSpace
  count: LabelSpace
}

/** The world's taxonomy and label spaces (built once; they are immutable). */
export function worldLabels(): WorldLabels {
  if (cached) return cached
  const taxonomy = new Taxonomy('world')
  const familyIds = FAMILY_NAMES.map((f) => taxonomy.add(f))
  const shapeIds = SHAPE_NAMES.map((s, i) => taxonomy.add(s, { parent: familyIds[SHAPE_FAMILY[i]] }))
  const fineIds: number[] = []
  for (let s = 0; s < SHAPE_NAMES.length; s++) {
    for (let c = 0; c < COLOURS.length; c++) {
      for (let t = 0; t < TEXTURE_NAMES.length; t++) {
        fineIds.push(taxonomy.add(fineName(s, c, t), { parent: shapeIds[s] }))
      }
    }
  }
  cached = {
    taxonomy,
    family: taxonomy.labelSpace('family', familyIds),
    shape: taxonomy.labelSpace('shape', shapeIds),
    fine: taxonomy.labelSpace('fine', fineIds),
    colour: new LabelSpace('colour', COLOUR_NAMES),
    texture: new LabelSpace('texture', TEXTURE_NAMES),
    count: new LabelSpace(
      'count',
      Array.from({ length: MAX_OBJECTS + 1 }, (_, i) => String(i)),
    ),
  }
  return cached
}
