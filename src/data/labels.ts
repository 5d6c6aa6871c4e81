// The label system: concepts with ids, names and parents. Several sources can name their classes
// differently; mapping them onto shared concepts lets one model see one label space, and walking
// parents gives the coarser levels (shape family, clothing group) that multi-level heads use.

export interface Concept {
  id: number
  name: string
  parent: number | null
  /** Depth in the hierarchy: 0 for roots. */
  level: number
  aliases: string[]
}

export class Taxonomy {
  private readonly concepts: Concept[] = []
  private readonly byName = new Map<string, number>()

  constructor(readonly name = 'taxonomy') {}

  get size(): number {
    return this.concepts.length
  }

  /** Adds a concept under `parent` (an id or a name) and returns its id. */
  add(name: string, options: { parent?: number | string; aliases?: string[] } = {}): number {
    const key = normalise(name)
    if (key === '') throw new TypeError(`Taxonomy.add: concept name must be non-empty`)
    if (this.byName.has(key)) {
      throw new Error(`Taxonomy.add: '${name}' already exists in taxonomy '${this.name}'`)
    }
    const parent = options.parent === undefined ? null : this.get(options.parent).id
    const id = this.concepts.length
    const aliases = options.aliases ?? []
    const level = parent === null ? 0 : this.concepts[parent].level + 1
    this.concepts.push({ id, name, parent, level, aliases })
    this.byName.set(key, id)
    for (const alias of aliases) {
      const a = normalise(alias)
      if (this.byName.has(a)) {
        throw new Error(`Taxonomy.add: alias '${alias}' of '${name}' is already taken`)
      }
      this.byName.set(a, id)
    }
    return id
  }

  /** A concept by id or by name/alias (case-insensitive); throws if unknown. */
  get(idOrName: number | string): Concept {
    if (typeof idOrName === 'number') {
      const c = this.concepts[idOrName]
      if (!Number.isInteger(idOrName) || c === undefined) {
        throw new RangeError(`Taxonomy.get: no concept with id ${idOrName} (size ${this.size})`)
      }
      return c
    }
    const id = this.byName.get(normalise(idOrName))
    if (id === undefined) {
      throw new RangeError(`Taxonomy.get: no concept named '${idOrName}' in taxonomy '${this.name}'`)
    }
    return this.concepts[id]
  }

  find(name: string): Concept | undefined {
    const id = this.byName.get(normalise(name))
    return id === undefined ? undefined : this.concepts[id]
  }

  all(): readonly Concept[] {
    return this.concepts
  }

  atLevel(level: number): Concept[] {
    return this.concepts.filter((c) => c.level === level)
  }

  children(idOrName: number | string): Concept[] {
    const id = this.get(idOrName).id
    return this.concepts.filter((c) => c.parent === id)
  }

  /** Ancestors nearest first, excluding the concept itself. */
  ancestors(idOrName: number | string): number[] {
    const out: number[] = []
    let p = this.get(idOrName).parent
    while (p !== null) {
      out.push(p)
      p = this.concepts[p].parent
    }
    return out
  }

  /** True when `id` is `ancestor` or lies below it. */
  isA(idOrName: number | string, ancestor: number | string): boolean {
    const id = this.get(idOrName).id
    const a = this.get(ancestor).id
    return id === a || this.ancestors(id).includes(a)
  }

  /** The concept's ancestor at `level` (itself when already there). */
  ancestorAtLevel(idOrName: number | string, level: number): number {
    const c = this.get(idOrName)
    if (level > c.level) {
      throw new RangeError(
        `Taxonomy.ancestorAtLevel: '${c.name}' is at level ${c.level}, cannot go down to level ${level}`,
      )
    }
    let id = c.id
    while (this.concepts[id].level > level) id = this.concepts[id].parent as number
    return id
  }

  /**
   * Maps a source's class names to concept ids, through names, aliases and the explicit
   * `rename` table; throws listing every name that matches nothing unless `unknown: 'skip'`
   * (then those map to -1).
   */
  mapNames(
    sourceNames: readonly string[],
    options: { rename?: Record<string, string>; unknown?: 'throw' | 'skip' } = {},
  ): Int32Array {
    const out = new Int32Array(sourceNames.length)
    const missing: string[] = []
    sourceNames.forEach((name, i) => {
      const c = this.find(options.rename?.[name] ?? name)
      if (c === undefined) missing.push(name)
      out[i] = c === undefined ? -1 : c.id
    })
    if (missing.length > 0 && options.unknown !== 'skip') {
      throw new RangeError(
        `Taxonomy.mapNames: ${missing.length} source label(s) match no concept in '${this.name}': ` +
          `${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}; ` +
          `add them, pass {rename}, or pass {unknown: 'skip'}`,
      )
    }
    return out
  }

  /** A label space whose classes are the given concepts, in that order. */
  labelSpace(name: string, concepts: readonly (number | string)[]): LabelSpace {
    const ids = concepts.map((c) => this.get(c).id)
    return new LabelSpace(
      name,
      ids.map((id) => this.concepts[id].name),
      { taxonomy: this, concepts: Int32Array.from(ids) },
    )
  }
}

/** An ordered list of class names; class index = position. Optionally tied to concepts. */
export class LabelSpace {
  readonly taxonomy?: Taxonomy
  readonly concepts?: Int32Array
  private readonly index = new Map<string, number>()

  constructor(
    readonly name: string,
    readonly classes: readonly string[],
    options: { taxonomy?: Taxonomy; concepts?: Int32Array } = {},
  ) {
    classes.forEach((c, i) => {
      if (this.index.has(c)) throw new Error(`LabelSpace '${name}': class '${c}' appears twice`)
      this.index.set(c, i)
    })
    if (options.concepts && options.concepts.length !== classes.length) {
      throw new RangeError(`LabelSpace '${name}': ${classes.length} classes but ${options.concepts.length} concepts`)
    }
    this.taxonomy = options.taxonomy
    this.concepts = options.concepts
  }

  get size(): number {
    return this.classes.length
  }

  indexOf(name: string): number {
    const i = this.index.get(name)
    if (i === undefined) {
      throw new RangeError(`LabelSpace '${this.name}': no class '${name}' (has ${this.size})`)
    }
    return i
  }

  /**
   * For each class here, the index of the class in `coarser` that is it or its nearest ancestor,
   * or -1 when none is. Both spaces must share a taxonomy.
   */
  coarsen(coarser: LabelSpace): Int32Array {
    if (!this.taxonomy || !this.concepts || coarser.taxonomy !== this.taxonomy || !coarser.concepts) {
      throw new Error(`LabelSpace.coarsen: '${this.name}' and '${coarser.name}' must both be tied to the same taxonomy`)
    }
    const target = new Map<number, number>()
    coarser.concepts.forEach((id, i) => target.set(id, i))
    const out = new Int32Array(this.size).fill(-1)
    for (let i = 0; i < this.size; i++) {
      const id = this.concepts[i]
      for (const a of [id, ...this.taxonomy.ancestors(id)]) {
        const j = target.get(a)
        if (j !== undefined) {
          out[i] = j
          break
        }
      }
    }
    return out
  }
}

function normalise(name: string): string {
  return name.trim().toLowerCase()
}
