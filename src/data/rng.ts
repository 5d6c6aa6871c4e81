// A small seedable PRNG (xoshiro128**, seeded through splitmix32) so that every random choice in
// the data system is reproducible: image i of a seed, a shuffle of an epoch, an augmentation of a
// sample. Math.random is never used, and streams are derived from keys rather than shared, so
// the result never depends on the order in which things are asked for (or on which worker asks).

function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0
  let z = next
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return [next, (z ^ (z >>> 16)) >>> 0]
}

/** Hashes a seed and any number of integer keys into one 32-bit seed. */
export function mixSeed(seed: number, ...keys: number[]): number {
  let h = foldSeed(seed, 'mixSeed')
  for (const key of keys) {
    const k = foldSeed(key, 'mixSeed')
    let s: number
    ;[s, h] = splitmix32((h ^ Math.imul(k, 0x27d4eb2f)) | 0)
    ;[, h] = splitmix32((s + k) | 0)
  }
  return h >>> 0
}

/** Hashes a string (a class name, a split name) into a 32-bit key for mixSeed. */
export function stringKey(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

function foldSeed(seed: number, fn: string): number {
  if (!Number.isSafeInteger(seed)) {
    throw new TypeError(`${fn}: seeds and keys must be safe integers, got ${seed}`)
  }
  // Fold the high bits in so that seeds above 2^32 stay distinct.
  const hi = Math.floor(seed / 0x100000000)
  return (seed ^ Math.imul(hi, 0x9e3779b1)) | 0
}

export class Rng {
  private s0: number
  private s1: number
  private s2: number
  private s3: number

  constructor(seed = 0) {
    let st = foldSeed(seed, 'Rng')
    let a: number, b: number, c: number
    ;[st, a] = splitmix32(st)
    ;[st, b] = splitmix32(st)
    ;[st, c] = splitmix32(st)
    const d = splitmix32(st)[1]
    // xoshiro must not start from the all-zero state.
    if ((a | b | c | d) === 0) a = 1
    this.s0 = a | 0
    this.s1 = b | 0
    this.s2 = c | 0
    this.s3 = d | 0
  }

  /** An independent stream for (seed, ...keys); the same keys always give the same stream. */
  static derive(seed: number, ...keys: number[]): Rng {
    return new Rng(mixSeed(seed, ...keys))
  }

  /** A new independent stream seeded from this one (consumes exactly one draw here). */
  fork(): Rng {
    return new Rng(this.nextUint32())
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9)
    const t = this.s1 << 9
    this.s2 ^= this.s0
    this.s3 ^= this.s1
    this.s1 ^= this.s2
    this.s0 ^= this.s3
    this.s2 ^= t
    this.s3 = rotl(this.s3, 11)
    return result >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next()
  }

  /** Uniform integer in [low, high). */
  int(low: number, high: number): number {
    if (!(high > low)) throw new RangeError(`Rng.int: need high > low, got [${low}, ${high})`)
    return low + Math.floor(this.next() * (high - low))
  }

  bool(p = 0.5): boolean {
    return this.next() < p
  }

  /** Standard normal (Box-Muller). */
  normal(mean = 0, std = 1): number {
    const u = 1 - this.next()
    const v = this.next()
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.pick: cannot pick from an empty list')
    return items[Math.floor(this.next() * items.length)]
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(items: T[] | Int32Array): T[] | Int32Array {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      const tmp = items[i]
      items[i] = items[j]
      items[j] = tmp
    }
    return items
  }

  permutation(n: number): Int32Array {
    const p = new Int32Array(n)
    for (let i = 0; i < n; i++) p[i] = i
    this.shuffle(p)
    return p
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
