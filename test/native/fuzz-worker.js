// Calls every native entry point with malformed arguments. Run in a child process by
// fuzz.test.ts: a crash kills only this process, and the parent sees the signal.
// Prints one JSON line: how many calls threw a proper Error, and any call that did not.
const path = require('path')
const native = require('node-gyp-build')(path.resolve(__dirname, '..', '..'))

let seed = 12345
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
const pick = (a) => a[Math.floor(rnd() * a.length)]

const buf = native.alloc(64 * 4)
const detached = native.alloc(16)
native.free(detached)
const good = (shape) => [buf, 0, shape, shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1)), 0]
const badDescriptors = [
  [buf, 0, [100], [1], 0], // past the end
  [buf, 60, [8], [1], 0], // offset past the end
  [buf, 0, [4, 4], [4], 0], // shape/strides length mismatch
  [buf, 0, [-1], [1], 0], // negative size
  [buf, 0, [4], [-100], 0], // negative stride reaching before the start
  [buf, 0, [4], [1], 9], // unknown dtype
  [buf, -3, [4], [1], 0], // negative offset
  [buf, 0.5, [4], [1], 0], // fractional offset
  [detached, 0, [4], [1], 0], // freed storage
  [new ArrayBuffer(8), 0, [4], [1], 1], // foreign buffer too small for float64 x4
  [buf, 0, [2 ** 40, 2 ** 40], [0, 0], 0], // too many elements
  [buf, 0, [4], [2 ** 62], 0], // stride overflow
  [buf, 0, ['a'], [1], 0],
  [buf, 0, [4], [1]], // too short
  'not a tensor',
  null,
  undefined,
  {},
  [],
]
const junk = [null, undefined, -1, NaN, Infinity, 1e300, 'relu', 'no-such-op', {}, [], [1, 2], true, () => 0, Symbol('s')]

// Entry points that take no argument or any count (nothing to malform), or would change the worker's state.
const skip = new Set(['alloc', 'free', 'memoryStats', 'cpuInfo', 'setNumThreads', 'releaseCachedBlocks'])
const failures = []
let errors = 0
let calls = 0
function expectError(name, args) {
  calls++
  try {
    native[name](...args)
  } catch (e) {
    if (e instanceof Error && typeof e.message === 'string' && e.message.length > 0) {
      errors++
      return
    }
    failures.push(`${name}: threw a non-Error ${String(e)}`)
    return
  }
  failures.push(`${name}: accepted ${JSON.stringify(args, (k, v) => (v instanceof ArrayBuffer ? `ArrayBuffer(${v.byteLength})` : typeof v === 'symbol' ? String(v) : v))}`)
}

for (const name of Object.keys(native)) {
  if (typeof native[name] !== 'function' || skip.has(name)) continue
  // Every kernel takes at least one tensor: replace it with something malformed, keep the
  // rest plausible, and vary the argument count.
  for (let trial = 0; trial < 150; trial++) {
    const arity = Math.floor(rnd() * 12)
    const args = []
    for (let i = 0; i < arity; i++) args.push(rnd() < 0.5 ? good(pick([[4], [2, 2], [64], [1]])) : pick(junk))
    const bad = Math.floor(rnd() * Math.max(arity, 1))
    args[bad] = pick(badDescriptors)
    // An op name first where kernels take one.
    if (rnd() < 0.5) args[0] = pick(['add', 'relu', 'sum', 'bogus'])
    expectError(name, args)
  }
  expectError(name, [])
}
// The memory entry points.
for (const v of [-1, 1e300, NaN, 'x', null, undefined, 2 ** 41, 2 ** 39]) expectError('alloc', [v])
for (const v of [0, -5, 1e9, 'x', null]) expectError('setNumThreads', [v])
for (const v of [null, 1, {}, 'x']) expectError('free', [v])
console.log(JSON.stringify({ calls, errors, failures: failures.slice(0, 20), failureCount: failures.length }))
