// Runs the bfloat16 matmul and conv kernels through the raw addon on random bfloat16 data and
// measures each output against a float64 reference computed from the same (bfloat16) inputs.
// Run by bfloat16-kernels.test.ts once per INTERN_VISION_ISA; prints one JSON line: the ISA,
// whether AVX512-BF16 ran, each case's worst error as a fraction of its tolerance, and the
// messages of the calls that must be refused.
const path = require('path')
const native = require('node-gyp-build')(path.resolve(__dirname, '..', '..'))

const BF16 = 5
const F32 = 0
let seed = 20261205
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)
const toBits = (v) => {
  f32[0] = v
  const u = u32[0]
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16
}
const fromBits = (b) => {
  u32[0] = b << 16
  return f32[0]
}

// A tensor in addon storage: `values` (float64 copies of the stored bfloat16 or float32
// elements, in storage order) and its descriptor, contiguous until a caller restrides it.
function tensor(count, dtype, fill, shape) {
  const size = dtype === BF16 ? 2 : 4
  const buf = native.alloc(count * size + 64)
  const off = native.alignedOffset(buf)
  const data = dtype === BF16 ? new Uint16Array(buf, off, count) : new Float32Array(buf, off, count)
  const values = new Float64Array(count)
  for (let i = 0; i < count; i++) {
    const v = fill ? fill(i) : 0
    if (dtype === BF16) {
      data[i] = toBits(v)
      values[i] = fromBits(data[i])
    } else {
      data[i] = v
      values[i] = data[i]
    }
  }
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1))
  return { values, data, desc: [buf, 0, shape, strides, dtype] }
}
const random = (shape, dtype = BF16) => tensor(shape.reduce((a, b) => a * b, 1), dtype, () => rnd() * 4 - 2, shape)
const empty = (shape, dtype = BF16) => tensor(shape.reduce((a, b) => a * b, 1), dtype, null, shape)
const read = (t) => Array.from(t.data, (b) => fromBits(b))

// A bfloat16 output against the exact value r, allowing float32 accumulation error over
// `terms` products summing to absSum in magnitude: `worst`, the largest error as a fraction of
// 1.5 ulp of r (one ulp past the correct rounding), and `misrounded`, how many outputs are not
// the correct rounding of r (ties to float32 error aside).
const cases = []
function record(name, outs, refs, sums, terms) {
  let worst = 0,
    misrounded = 0
  for (let i = 0; i < refs.length; i++) {
    const r = refs[i],
      out = outs[i]
    const ulp = r === 0 ? 2 ** -133 : 2 ** (Math.floor(Math.log2(Math.abs(r))) - 7)
    const accumulation = 2 * terms * 2 ** -24 * sums[i] + 4 * 2 ** -24 * Math.abs(r)
    const err = Number.isFinite(out) ? Math.abs(out - r) : Infinity
    worst = Math.max(worst, err / (1.5 * ulp + accumulation))
    if (err > 0.5 * ulp + accumulation) misrounded++
  }
  cases.push({ name, worst, misrounded, n: refs.length })
}

// out[z] = a[z] @ b[z] (+ bias): a [B, M, K] read from storage [B, K, M] when transA, b from
// [B, N, K] when transB, and one b for every z when broadcastB (batch stride 0).
function matmulCase(name, { B = 1, M, N, K, transA = false, transB = false, bias = false, broadcastB = false }) {
  const aStrides = transA ? [M * K, 1, M] : [M * K, K, 1]
  const bStrides = [broadcastB ? 0 : K * N, transB ? 1 : N, transB ? K : 1]
  const a = random([B * M * K]),
    b = random([(broadcastB ? 1 : B) * K * N])
  a.desc[2] = [B, M, K]
  a.desc[3] = aStrides
  b.desc[2] = [B, K, N]
  b.desc[3] = bStrides
  // The bias is every other element of a vector of 2N.
  const bi = bias ? random([2 * N]) : null
  if (bi) {
    bi.desc[2] = [N]
    bi.desc[3] = [2]
  }
  const out = empty([B, M, N])
  native.matmul(out.desc, a.desc, b.desc, bi ? bi.desc : null)
  const refs = new Float64Array(B * M * N),
    sums = new Float64Array(B * M * N)
  for (let z = 0; z < B; z++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = bi ? bi.values[2 * j] : 0,
          abs = Math.abs(s)
        for (let k = 0; k < K; k++) {
          const av = a.values[z * M * K + i * aStrides[1] + k * aStrides[2]]
          const bv = b.values[z * bStrides[0] + k * bStrides[1] + j * bStrides[2]]
          s += av * bv
          abs += Math.abs(av * bv)
        }
        refs[(z * M + i) * N + j] = s
        sums[(z * M + i) * N + j] = abs
      }
  record(`matmul ${name}`, read(out), refs, sums, K + 1)
}

const activations = {
  none: (z) => z,
  relu: (z) => Math.max(z, 0),
  gelu: (z) => 0.5 * z * (1 + erf(z / Math.SQRT2)),
  silu: (z) => z / (1 + Math.exp(-z)),
}
// erf in float64: its Taylor series below 3, the continued fraction of erfc above.
function erf(x) {
  const s = Math.sign(x),
    a = Math.abs(x)
  if (a < 3) {
    let sum = a,
      term = a
    for (let n = 1; n < 80; n++) {
      term *= (-a * a) / n
      sum += term / (2 * n + 1)
    }
    return (s * 2 * sum) / Math.sqrt(Math.PI)
  }
  let f = 0
  for (let n = 60; n >= 1; n--) f = n / 2 / (a + f)
  return s * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f))
}

// conv2d forward (with bias, activation and pre), input gradient, weight and bias gradient.
function convCase(name, { N, C, H, W, K, kh, kw, stride = [1, 1], pad = [0, 0, 0, 0], dil = [1, 1], groups = 1, act = 'none' }) {
  const [sh, sw] = stride,
    [pt, pb, pl, pr] = pad,
    [dh, dw] = dil
  const Ho = Math.floor((H + pt + pb - dh * (kh - 1) - 1) / sh) + 1,
    Wo = Math.floor((W + pl + pr - dw * (kw - 1) - 1) / sw) + 1
  const Cg = C / groups,
    Kg = K / groups
  const params = [sh, sw, pt, pb, pl, pr, dh, dw, groups]
  const x = random([N, C, H, W]),
    w = random([K, Cg, kh, kw]),
    bias = random([K]),
    gy = random([N, K, Ho, Wo])
  const y = empty([N, K, Ho, Wo]),
    pre = empty([N, K, Ho, Wo]),
    gx = empty([N, C, H, W]),
    gw = empty([K, Cg, kh, kw]),
    gb = empty([K])
  native.conv2d(y.desc, x.desc, w.desc, bias.desc, params, act, pre.desc)
  native.conv2dBackwardInput(gx.desc, gy.desc, w.desc, params)
  native.conv2dBackwardWeight(gw.desc, gb.desc, gy.desc, x.desc, params)
  const P = Ho * Wo
  const rPre = new Float64Array(N * K * P),
    sPre = new Float64Array(N * K * P)
  const rGx = new Float64Array(N * C * H * W),
    sGx = new Float64Array(N * C * H * W)
  const rGw = new Float64Array(K * Cg * kh * kw),
    sGw = new Float64Array(K * Cg * kh * kw)
  const rGb = new Float64Array(K),
    sGb = new Float64Array(K)
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const gi = Math.floor(k / Kg)
      for (let p = 0; p < P; p++) {
        const ho = Math.floor(p / Wo),
          wo = p % Wo,
          o = (n * K + k) * P + p,
          g = gy.values[o]
        let s = bias.values[k],
          abs = Math.abs(s)
        rGb[k] += g
        sGb[k] += Math.abs(g)
        for (let c = 0; c < Cg; c++)
          for (let i = 0; i < kh; i++) {
            const ih = ho * sh - pt + i * dh
            if (ih < 0 || ih >= H) continue
            for (let j = 0; j < kw; j++) {
              const iw = wo * sw - pl + j * dw
              if (iw < 0 || iw >= W) continue
              const xi = ((n * C + gi * Cg + c) * H + ih) * W + iw,
                wi = ((k * Cg + c) * kh + i) * kw + j
              s += x.values[xi] * w.values[wi]
              abs += Math.abs(x.values[xi] * w.values[wi])
              rGx[xi] += g * w.values[wi]
              sGx[xi] += Math.abs(g * w.values[wi])
              rGw[wi] += g * x.values[xi]
              sGw[wi] += Math.abs(g * x.values[xi])
            }
          }
        rPre[o] = s
        sPre[o] = abs
      }
    }
  const R = Cg * kh * kw
  record(`conv2d ${name} pre`, read(pre), rPre, sPre, R + 1)
  record(`conv2d ${name} ${act}`, read(y), Array.from(rPre, activations[act]), Array.from(sPre, (v) => 1.2 * v), R + 1)
  record(`conv2dBackwardInput ${name}`, read(gx), rGx, sGx, Kg * kh * kw)
  record(`conv2dBackwardWeight ${name}`, read(gw), rGw, sGw, N * P)
  record(`conv2dBackwardWeight ${name} bias`, read(gb), rGb, sGb, N * P)
}

matmulCase('37x67 @ 67x45', { M: 37, N: 45, K: 67 })
matmulCase('K = 1', { M: 5, N: 33, K: 1 })
matmulCase('K = 3, bias', { M: 15, N: 31, K: 3, bias: true })
matmulCase('K = 1101 (three K blocks, odd last)', { M: 29, N: 70, K: 1101 })
matmulCase('a transposed', { B: 2, M: 19, N: 40, K: 23, transA: true })
matmulCase('b transposed, bias', { B: 2, M: 21, N: 35, K: 45, transB: true, bias: true })
matmulCase('both transposed', { M: 30, N: 50, K: 17, transA: true, transB: true })
matmulCase('b broadcast over the batch', { B: 3, M: 16, N: 33, K: 40, broadcastB: true, bias: true })
matmulCase('256 cubed (threads)', { M: 256, N: 256, K: 255 })
matmulCase('K = 0, bias', { M: 3, N: 4, K: 0, bias: true })

convCase('3x3 pad 1', { N: 2, C: 5, H: 9, W: 10, K: 7, kh: 3, kw: 3, pad: [1, 1, 1, 1], act: 'relu' })
convCase('3x3 small planes (image blocks)', { N: 3, C: 4, H: 6, W: 6, K: 9, kh: 3, kw: 3, pad: [1, 1, 1, 1], act: 'gelu' })
convCase('stride 2, dilation 2, asymmetric padding', { N: 2, C: 3, H: 13, W: 12, K: 6, kh: 3, kw: 2, stride: [2, 2], pad: [2, 1, 0, 2], dil: [2, 2], act: 'silu' })
convCase('groups 2', { N: 2, C: 6, H: 10, W: 9, K: 4, kh: 3, kw: 3, pad: [1, 1, 1, 1], groups: 2 })
convCase('depthwise x2, stride 2', { N: 2, C: 4, H: 11, W: 11, K: 8, kh: 3, kw: 3, stride: [2, 2], pad: [1, 1, 1, 1], groups: 4, act: 'relu' })
convCase('depthwise 5x5 small', { N: 3, C: 6, H: 7, W: 7, K: 6, kh: 5, kw: 5, pad: [2, 2, 2, 2], groups: 6, act: 'gelu' })
convCase('1x1 (direct GEMM)', { N: 2, C: 3, H: 10, W: 11, K: 8, kh: 1, kw: 1 })
convCase('1x1 stride 2', { N: 2, C: 7, H: 12, W: 12, K: 5, kh: 1, kw: 1, stride: [2, 2], act: 'silu' })
convCase('1x1 small planes', { N: 5, C: 16, H: 4, W: 4, K: 12, kh: 1, kw: 1 })
convCase('3x3, many column tiles (threads)', { N: 2, C: 16, H: 48, W: 48, K: 8, kh: 3, kw: 3, pad: [1, 1, 1, 1], act: 'relu' })

// Calls that must be refused, with the message.
const refusals = {}
const refuse = (key, f) => {
  try {
    f()
    refusals[key] = 'accepted'
  } catch (e) {
    refusals[key] = String(e.message)
  }
}
const a16 = random([1, 4, 3]),
  b32 = random([1, 3, 5], F32),
  o16 = empty([1, 4, 5]),
  b16 = random([1, 3, 5]),
  bias32 = random([5], F32)
refuse('matmul mixed', () => native.matmul(o16.desc, a16.desc, b32.desc, null))
refuse('matmul bias', () => native.matmul(o16.desc, a16.desc, b16.desc, bias32.desc))
const x16 = random([1, 2, 5, 5]),
  w32 = random([3, 2, 3, 3], F32),
  y16 = empty([1, 3, 3, 3]),
  w16 = random([3, 2, 3, 3]),
  cb32 = random([3], F32)
const params = [1, 1, 0, 0, 0, 0, 1, 1, 1]
refuse('conv2d mixed', () => native.conv2d(y16.desc, x16.desc, w32.desc, null, params, 'none', null))
refuse('conv2d bias', () => native.conv2d(y16.desc, x16.desc, w16.desc, cb32.desc, params, 'none', null))
refuse('conv2dBackwardWeight gradBias', () => native.conv2dBackwardWeight(w16.desc, cb32.desc, y16.desc, x16.desc, params))

console.log(JSON.stringify({ cpu: native.cpuInfo(), cases, refusals }))
