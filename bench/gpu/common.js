'use strict'
// What the GPU check scripts share: where results go, the CUDA availability gate, NaN-poisoned
// outputs (so that an unwritten element fails), and the comparison against the CPU backend.
// Result rows are [name, error, tolerance, pass].
const fs = require('node:fs')
const path = require('node:path')
const iv = require('../../lib')
const cuda = require('../../lib/cuda')

const OUT = process.env.OUT || path.join(__dirname, '..', 'out')
fs.mkdirSync(OUT, { recursive: true })
if (!cuda.isAvailable()) {
  console.error(`CUDA is not available: ${cuda.unavailableReason()}`)
  process.exit(2)
}

const { Tensor } = iv
const TOL = { float32: 1e-5, float64: 1e-12, bf16: 1e-2 }
const POISON = { float32: NaN, float64: NaN, int32: -777777, uint8: 77, bool: 77 }
const results = []

function poisoned(shape, dtype, device) {
  const t = Tensor.empty(shape, dtype, device)
  // fill() writes bool as 0/1: poison a bool output through a uint8 alias of its memory.
  const raw = dtype === 'bool' ? new Tensor(t.storage, 0, t.shape, t.strides, 'uint8') : t
  raw.fill_(POISON[dtype])
  return t
}

// Floats: relative norm error, NaN and infinities only where the reference has them.
// Integers and bools: exact. `got` is a cuda tensor, `ref` a cpu one.
function compare(name, got, ref, tol = TOL[ref.dtype] ?? 0) {
  const g = got.cpu().data()
  const r = ref.data()
  let pass = g.length === r.length
  let err = 0
  if (pass && (ref.dtype === 'float32' || ref.dtype === 'float64')) {
    let diff = 0
    let norm = 0
    for (let i = 0; i < r.length; i++) {
      const a = g[i]
      const b = r[i]
      if (!Number.isFinite(b)) {
        if (!Object.is(a, b) && !(Number.isNaN(a) && Number.isNaN(b))) pass = false
        continue
      }
      if (!Number.isFinite(a)) {
        pass = false
        continue
      }
      diff += (a - b) * (a - b)
      norm += b * b
    }
    err = norm > 0 ? Math.sqrt(diff / norm) : Math.sqrt(diff)
    pass = pass && err <= tol
  } else if (pass) {
    for (let i = 0; i < r.length; i++) if (g[i] !== r[i]) err++
    pass = err === 0
  }
  results.push([name, err, tol, pass])
  if (!pass) console.log(`FAIL ${name}: error ${err} (tolerance ${tol})`)
}

function guard(name, fn) {
  try {
    fn()
  } catch (e) {
    results.push([name, NaN, 0, false])
    console.log(`FAIL ${name}: ${e.stack}`)
  }
}

module.exports = { OUT, TOL, POISON, results, poisoned, compare, guard }
