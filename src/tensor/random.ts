// A seedable generator (xoshiro128**, seeded through splitmix32) so that runs reproduce:
// manualSeed(s) resets the default one; pass a Generator to draw from a stream of your own.

export class Generator {
  private s = new Uint32Array(4)
  private spare: number | null = null

  constructor(seed = 0) {
    this.manualSeed(seed)
  }

  manualSeed(seed: number): this {
    if (!Number.isFinite(seed)) throw new Error(`manualSeed: seed must be a finite number, got ${seed}`)
    let x = (Math.floor(seed) ^ Math.floor(seed / 2 ** 32)) >>> 0
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0
      let z = x
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      this.s[i] = (z ^ (z >>> 16)) >>> 0
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1
    this.spare = null
    return this
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s = this.s
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0
    const t = s[1] << 9
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 11)
    return result
  }

  /** Uniform in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5
    const lo = this.nextUint32() >>> 6
    return (hi * 67108864 + lo) / 9007199254740992
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare
      this.spare = null
      return v
    }
    let u = 0
    while (u === 0) u = this.random()
    const v = this.random()
    const r = Math.sqrt(-2 * Math.log(u))
    this.spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }

  /** Uniform integer in [low, high). */
  integer(low: number, high: number): number {
    return low + Math.floor(this.random() * (high - low))
  }

  /** The state, to save in a checkpoint and restore with setState. */
  getState(): number[] {
    return [...this.s, this.spare ?? NaN]
  }

  setState(state: number[]): void {
    if (!Array.isArray(state) || state.length !== 5)
      throw new Error('Generator.setState: expected the array getState() returned')
    for (let i = 0; i < 4; i++) this.s[i] = state[i] >>> 0
    this.spare = Number.isNaN(state[4]) ? null : state[4]
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}

export const defaultGenerator = new Generator(0)

/** Seeds the default generator (torch.manual_seed). */
export function manualSeed(seed: number): Generator {
  return defaultGenerator.manualSeed(seed)
}

/** Two 32-bit words from a generator (the default one when omitted): the seed of one native
 * random stream. */
export function drawSeed(generator: Generator | undefined): [number, number] {
  const g = generator ?? defaultGenerator
  return [g.nextUint32(), g.nextUint32()]
}
