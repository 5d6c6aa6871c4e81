import t from 'tap'
import * as iv from '../../src'
import type { DType, TypedArray } from '../../src'

const dtypes: DType[] = ['float32', 'float64', 'bfloat16', 'int32', 'uint8', 'bool']

// Values each dtype holds exactly, edge cases included.
function sample(dtype: DType, n: number): TypedArray {
  const g = new iv.Generator(7)
  switch (dtype) {
    case 'float32': {
      const a = Float32Array.from({ length: n }, () => g.normal() * 1e3)
      a.set([0, -0, NaN, Infinity, -Infinity, 1.4e-45, 3.4028234663852886e38].slice(0, n))
      return a
    }
    case 'float64': {
      const a = Float64Array.from({ length: n }, () => g.normal() * 1e6)
      a.set([0, -0, NaN, Infinity, 5e-324, Number.MAX_VALUE, Math.PI].slice(0, n))
      return a
    }
    case 'bfloat16': {
      // Float32 values with the low 16 bits cleared: exactly representable, read back as float32.
      const a = Float32Array.from({ length: n }, () => g.normal() * 1e3)
      a.set([0, -0, NaN, Infinity, -Infinity, 9.183549615799121e-41, 3.3895313892515355e38].slice(0, n))
      const bits = new Uint32Array(a.buffer)
      for (let i = 0; i < n; i++) bits[i] &= 0xffff0000
      return a
    }
    case 'int32': {
      const a = Int32Array.from({ length: n }, () => g.integer(-(2 ** 31), 2 ** 31 - 1))
      a.set([-(2 ** 31), 2 ** 31 - 1, 0, -1].slice(0, n))
      return a
    }
    case 'uint8':
      return Uint8Array.from({ length: n }, (_, i) => i % 256)
    case 'bool':
      return Uint8Array.from({ length: n }, () => g.integer(0, 2))
  }
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]))

t.test('fromHost and data() round trip exactly, for every dtype', (t) => {
  for (const dtype of dtypes) {
    for (const n of [1, 1000, 2 ** 20 + 3]) {
      const src = sample(dtype, n)
      const x = iv.tensor(src, { dtype })
      const out = x.data()
      t.ok(same(out, src), `${dtype} [${n}]`)
      t.not(out, src)
      // Both sides are copies: writing either leaves the other alone.
      out[0] = 1
      src[n - 1] = 0
      const fresh = sample(dtype, n)
      t.ok(Object.is(x.data()[0], fresh[0]) && Object.is(x.data()[n - 1], fresh[n - 1]), `${dtype}: copies, not views`)
      x.dispose()
    }
  }
  t.end()
})

t.test('fromHost converts between dtypes as typed-array element assignment does', (t) => {
  const src = Float64Array.from([0, 0.5, -0.5, 1.7, -2.7, 300, -1, 2 ** 40, NaN, 1e-300, 16777217])
  for (const dtype of ['float32', 'int32', 'uint8'] as const) {
    const expected = new { float32: Float32Array, int32: Int32Array, uint8: Uint8Array }[dtype](src.length)
    for (let i = 0; i < src.length; i++) expected[i] = src[i]
    t.ok(same(iv.tensor(src, { dtype }).data(), expected), dtype)
  }
  t.same(Array.from(iv.tensor(src, { dtype: 'bool' }).data()), [0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1])
  t.same(Array.from(iv.tensor(Int32Array.from([3, -4]), { dtype: 'float64' }).data()), [3, -4])
  t.end()
})

t.test('data() of non-contiguous views reads them in row-major order', (t) => {
  const [A, B, C] = [2, 3, 4]
  for (const dtype of dtypes) {
    const src = sample(dtype, A * B * C)
    const x = iv.tensor(src, { dtype, shape: [A, B, C] })
    const at = (i: number, j: number, k: number) => src[(i * B + j) * C + k]
    const expect = (shape: number[], f: (...ix: number[]) => number) => {
      const out: number[] = []
      const walk = (prefix: number[]) =>
        prefix.length === shape.length
          ? out.push(f(...prefix))
          : [...Array(shape[prefix.length]).keys()].forEach((i) => walk([...prefix, i]))
      walk([])
      return out
    }
    const cases: [string, iv.Tensor, number[]][] = [
      ['permute(2, 0, 1)', x.permute(2, 0, 1), expect([C, A, B], (k, i, j) => at(i, j, k))],
      ['transpose(0, 2)', x.transpose(0, 2), expect([C, B, A], (k, j, i) => at(i, j, k))],
      ['narrow(2, 1, 2)', x.narrow(2, 1, 2), expect([A, B, 2], (i, j, k) => at(i, j, k + 1))],
      ['select(1, 2)', x.select(1, 2), expect([A, C], (i, k) => at(i, 2, k))],
      ['slice(2, 0, 4, 2)', x.slice(2, 0, 4, 2), expect([A, B, 2], (i, j, k) => at(i, j, 2 * k))],
      ['expand', x.narrow(0, 1, 1).expand(3, B, C), expect([3, B, C], (_i, j, k) => at(1, j, k))],
    ]
    for (const [name, view, expected] of cases) {
      t.notOk(view.isContiguous(), `${name} is a strided view`)
      t.ok(same(view.data(), expected), `${dtype} ${name}`)
    }
  }
  t.end()
})
