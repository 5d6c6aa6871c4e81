'use strict'
// The CUDA backend's check on a GPU machine (run by bench/gpu/check.sh, from the compiled
// lib/): every CUDA op against the CPU backend on fresh random inputs, outputs poisoned
// first (NaN, or an impossible integer) so that an unwritten element shows; then timings
// against PyTorch on the same card in the same run (torch.json from torch_bench.py).
// Tolerances: float32 1e-5 and float64 1e-12 relative (norm of the difference over the
// norm of the reference); bf16 GEMM 1e-2 against a float64 product of the same float32
// inputs; integers and bools exact; NaN only where the reference has NaN.
const fs = require('node:fs')
const path = require('node:path')
const iv = require('../../lib')
const cuda = require('../../lib/cuda')

const { OUT, TOL, results, poisoned, compare, guard } = require('./common')
const CASES = JSON.parse(fs.readFileSync(path.join(__dirname, 'cases.json'), 'utf8'))

const { Tensor } = iv

// ---- inputs and comparison ----

function rnd(shape, dtype, kind = 'normal') {
  if (dtype === 'int32') return iv.randint(kind === 'positive' ? 1 : -50, 50, shape, { dtype: 'int32' })
  if (dtype === 'uint8') return iv.randint(kind === 'positive' ? 1 : 0, 200, shape, { dtype: 'int32' }).to('uint8')
  if (dtype === 'bool') return iv.randint(0, 2, shape, { dtype: 'int32' }).to('bool')
  const x = kind === 'positive' ? iv.rand(shape, { dtype }).add(0.1) : iv.randn(shape, { dtype })
  if (kind === 'nan' && x.numel > 2) {
    const d = x.data()
    d[1] = NaN
    d[d.length - 1] = NaN
    return iv.tensor(d, { shape, dtype })
  }
  return x
}

// The same view of a host tensor and its device copy.
const views = {
  contiguous: (t) => t,
  transposed: (t) => t.transpose(0, 1),
  offset: (t) => t.narrow(0, 1, t.shape[0] - 1),
}

// ---- ops ----

const FLOAT_UNARY = [
  ['neg'],
  ['abs'],
  ['exp'],
  ['log', 'positive'],
  ['sqrt', 'positive'],
  ['rsqrt', 'positive'],
  ['tanh'],
  ['sigmoid'],
  ['relu'],
  ['gelu'],
  ['geluTanh'],
  ['silu'],
  ['hardsigmoid'],
  ['hardswish'],
  ['clamp', 'normal', -0.5, 0.7],
  ['sign'],
  ['square'],
  ['reciprocal', 'positive'],
  ['powScalar', 'positive', 3],
  ['powScalar', 'positive', 0.5],
  ['leakyRelu', 'normal', 0.1],
  ['sin'],
  ['cos'],
  ['floor'],
  ['ceil'],
  ['round'],
  ['log1p', 'positive'],
  ['expm1'],
  ['logicalNot'],
]
const INT_UNARY = ['neg', 'abs', 'clamp', 'sign', 'square', 'relu', 'logicalNot']

function checkUnary() {
  for (const dtype of ['float32', 'float64'])
    for (const [op, kind = 'normal', a = NaN, b = NaN] of FLOAT_UNARY)
      for (const [layout, view] of Object.entries(views)) {
        const name = `unary ${op}${Number.isNaN(a) ? '' : `(${a})`} ${dtype} ${layout}`
        guard(name, () => {
          const base = rnd(layout === 'transposed' ? [129, 37] : [100003], dtype, kind === 'normal' ? 'nan' : kind)
          const x = view(base)
          const xd = view(base.cuda())
          const ref = poisoned(x.shape, dtype, 'cpu')
          const got = poisoned(x.shape, dtype, 'cuda')
          ref.backend.unary(op, ref, x, a, b)
          got.backend.unary(op, got, xd, a, b)
          compare(name, got, ref)
        })
      }
  for (const dtype of ['int32', 'uint8', 'bool'])
    for (const op of INT_UNARY) {
      if (dtype !== 'int32' && op === 'neg') continue
      if (dtype === 'bool' && op !== 'logicalNot') continue
      const [a, b] = op === 'clamp' ? (dtype === 'int32' ? [-10, 20] : [10, 100]) : [NaN, NaN]
      const name = `unary ${op} ${dtype}`
      guard(name, () => {
        const x = rnd([1001, 7], dtype)
        const ref = poisoned(x.shape, dtype, 'cpu')
        const got = poisoned(x.shape, dtype, 'cuda')
        ref.backend.unary(op, ref, x, a, b)
        got.backend.unary(op, got, x.cuda(), a, b)
        compare(name, got, ref)
      })
    }
}

const FLOAT_BINARY = [
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'maximum',
  'minimum',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'logicalAnd',
  'logicalOr',
  'reluGrad',
  'geluGrad',
  'geluTanhGrad',
  'siluGrad',
  'sigmoidGrad',
  'tanhGrad',
  'hardsigmoidGrad',
  'hardswishGrad',
  'leakyReluGrad',
  'atan2',
  'remainder',
]
const CMP = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr'])
const INT_BINARY = [
  'add',
  'sub',
  'mul',
  'div',
  'remainder',
  'maximum',
  'minimum',
  'eq',
  'ne',
  'lt',
  'ge',
  'logicalAnd',
  'logicalOr',
]

// Binary layouts: [a view, b view] of a [m, n] output.
const BINARY_LAYOUTS = {
  contiguous: (a, b) => [a, b],
  'b row broadcast': (a, b) => [a, b.narrow(0, 0, 1).expand(a.shape)],
  'b scalar': (a, b) => [a, b.narrow(0, 0, 1).narrow(1, 0, 1).expand(a.shape)],
  'a transposed': (a, b) => [a.transpose(0, 1).contiguous().transpose(0, 1), b],
}

function runBinary(op, dtype, shape, kindA, layout, alpha, name) {
  guard(name, () => {
    const a = rnd(shape, dtype, kindA)
    const b = rnd(shape, dtype, dtype === 'float32' || dtype === 'float64' ? 'nan' : 'normal')
    const [ha, hb] = BINARY_LAYOUTS[layout](a, b)
    const [da, db] = BINARY_LAYOUTS[layout](a.cuda(), b.cuda())
    const outDtype = CMP.has(op) ? 'bool' : dtype
    const ref = poisoned(shape, outDtype, 'cpu')
    const got = poisoned(shape, outDtype, 'cuda')
    ref.backend.binary(op, ref, ha, hb, alpha)
    got.backend.binary(op, got, da, db, alpha)
    compare(name, got, ref)
  })
}

function checkBinary() {
  for (const dtype of ['float32', 'float64'])
    for (const op of FLOAT_BINARY)
      for (const layout of Object.keys(BINARY_LAYOUTS)) {
        const alpha = op === 'add' || op === 'sub' ? 0.5 : op === 'leakyReluGrad' ? 0.1 : 1
        runBinary(
          op,
          dtype,
          [301, 257],
          op === 'pow' ? 'positive' : 'nan',
          layout,
          alpha,
          `binary ${op} ${dtype} ${layout}`,
        )
      }
  for (const dtype of ['int32', 'uint8'])
    for (const op of INT_BINARY)
      for (const layout of ['contiguous', 'b row broadcast'])
        runBinary(
          op,
          dtype,
          [67, 129],
          'normal',
          layout,
          op === 'add' || op === 'sub' ? 2 : 1,
          `binary ${op} ${dtype} ${layout}`,
        )
}

function checkWhereCopyFill() {
  for (const dtype of ['float32', 'float64', 'int32', 'uint8'])
    guard(`where ${dtype}`, () => {
      const c = rnd([1, 513], 'bool')
      const a = rnd([211, 513], dtype)
      const b = rnd([211, 513], dtype)
      const ref = poisoned(a.shape, dtype, 'cpu')
      const got = poisoned(a.shape, dtype, 'cuda')
      ref.backend.where(ref, c.expand(a.shape), a, b)
      got.backend.where(got, c.cuda().expand(a.shape), a.cuda(), b.cuda())
      compare(`where ${dtype}`, got, ref)
    })
  const dtypes = ['float32', 'float64', 'int32', 'uint8', 'bool']
  for (const to of dtypes)
    for (const from of dtypes)
      for (const layout of ['contiguous', 'transposed']) {
        const name = `copy ${from} -> ${to} ${layout}`
        guard(name, () => {
          // Non-negative, in range: float -> uint8 of a negative number is undefined in C++.
          const src =
            from === 'float32' || from === 'float64'
              ? iv.rand([333, 97], { dtype: from }).mul(200)
              : rnd([333, 97], from, 'normal')
          const s = views[layout](src)
          const ref = poisoned(s.shape, to, 'cpu')
          const got = poisoned(s.shape, to, 'cuda')
          ref.backend.copy(ref, s)
          got.backend.copy(got, views[layout](src.cuda()))
          compare(name, got, ref)
        })
      }
  for (const dtype of dtypes)
    guard(`fill ${dtype} (every other column)`, () => {
      const ref = poisoned([55, 66], dtype, 'cpu')
      const got = poisoned([55, 66], dtype, 'cuda')
      const value = dtype === 'bool' ? 1 : 3.75
      ref.backend.fill(ref.slice(1, 0, 66, 2), value)
      got.backend.fill(got.slice(1, 0, 66, 2), value)
      compare(`fill ${dtype} (every other column)`, got, ref)
    })
  for (const dtype of dtypes)
    guard(`to('cuda').to('cpu') ${dtype}`, () => {
      const x = rnd([1237], dtype)
      compare(`to('cuda').to('cpu') ${dtype}`, x.cuda(), x)
    })
}

// The backend's reduce on x with `dims` moved last, as src/ops/reduce.ts does it.
function reduceWith(op, x, dims, correction, out) {
  const kept = [...Array(x.ndim).keys()].filter((d) => !dims.includes(d))
  const perm = [...kept, ...dims]
  const xp = x.asView(
    perm.map((d) => x.shape[d]),
    perm.map((d) => x.strides[d]),
  )
  out.backend.reduce(op, out, xp, dims.length, correction)
}

function checkReduce() {
  const FLOAT_OPS = ['sum', 'mean', 'max', 'min', 'argmax', 'argmin', 'logsumexp', 'var', 'prod']
  const shapes = [
    ['last dim', [67, 1031], [1]],
    ['first dim', [1031, 67], [0]],
    ['middle dims', [5, 33, 17, 9], [1, 3]],
    ['all (two-pass)', [3000017], [0]],
    ['rows of 100k (two-pass)', [3, 100003], [1]],
    ['short rows', [20000, 3], [1]],
  ]
  for (const dtype of ['float32', 'float64'])
    for (const op of FLOAT_OPS)
      for (const [label, shape, dims] of shapes) {
        for (const kind of op === 'prod' ? ['positive'] : ['normal', 'nan']) {
          const name = `reduce ${op} ${dtype} ${label}${kind === 'nan' ? ' with NaN' : ''}`
          guard(name, () => {
            // prod of many terms under/overflows: values near 1 keep it finite.
            const x = op === 'prod' ? iv.rand(shape, { dtype }).mul(0.02).add(0.99) : rnd(shape, dtype, kind)
            const outShape = shape.filter((_, d) => !dims.includes(d))
            const outDtype = op === 'argmax' || op === 'argmin' ? 'int32' : dtype
            const ref = poisoned(outShape, outDtype, 'cpu')
            const got = poisoned(outShape, outDtype, 'cuda')
            reduceWith(op, x, dims, op === 'var' ? 1 : 0, ref)
            reduceWith(op, x.cuda(), dims, op === 'var' ? 1 : 0, got)
            compare(name, got, ref, op === 'argmax' || op === 'argmin' ? 0 : undefined)
          })
        }
      }
  // uint8 sums overflow, where the CPU's double-to-uint8 conversion is undefined.
  for (const dtype of ['int32', 'uint8'])
    for (const op of dtype === 'int32' ? ['sum', 'max', 'min', 'argmax', 'argmin'] : ['max', 'min', 'argmax', 'argmin'])
      for (const [label, shape, dims] of shapes.slice(0, 3)) {
        const name = `reduce ${op} ${dtype} ${label}`
        guard(name, () => {
          const x = rnd(shape, dtype)
          const outShape = shape.filter((_, d) => !dims.includes(d))
          const outDtype = op === 'argmax' || op === 'argmin' ? 'int32' : dtype
          const ref = poisoned(outShape, outDtype, 'cpu')
          const got = poisoned(outShape, outDtype, 'cuda')
          reduceWith(op, x, dims, 0, ref)
          reduceWith(op, x.cuda(), dims, 0, got)
          compare(name, got, ref)
        })
      }
}

// [label, batch, M, N, K, transA, transB, broadcastB, bias]
const MATMULS = [
  ['square 128', 1, 128, 128, 128, false, false, false, false],
  ['odd 77x131x45', 1, 77, 131, 45, false, false, false, true],
  ['a^T', 3, 65, 97, 130, true, false, false, false],
  ['b^T', 3, 65, 97, 130, false, true, false, true],
  ['a^T b^T', 2, 200, 136, 72, true, true, false, false],
  ['batch-broadcast b', 4, 64, 48, 33, false, false, true, true],
  ['large 513', 1, 513, 515, 517, false, false, false, false],
  ['m = 1', 1, 1, 300, 200, false, false, false, true],
  ['n = 1', 2, 300, 1, 200, false, false, false, false],
  ['k = 1', 1, 100, 100, 1, false, false, false, false],
]

function operands(batch, M, N, K, transA, transB, broadcastB, dtype) {
  const a = transA ? rnd([batch, K, M], dtype).transpose(1, 2) : rnd([batch, M, K], dtype)
  const b1 = transB
    ? rnd([broadcastB ? 1 : batch, N, K], dtype).transpose(1, 2)
    : rnd([broadcastB ? 1 : batch, K, N], dtype)
  const b = broadcastB ? b1.asView([batch, K, N], [0, b1.strides[1], b1.strides[2]]) : b1
  return { a, b, bias: rnd([N], dtype) }
}

function onDevice(t) {
  // Keeps the strides (transposes, stride-0 batch) of a host view on the device.
  const base = t.asView([t.storage.byteLength / t.itemSize], [1], 0)
  const d = base.cuda()
  return d.asView(t.shape, t.strides, t.offset)
}

function checkMatmul() {
  for (const dtype of ['float32', 'float64'])
    for (const [label, batch, M, N, K, ta, tb, bb, withBias] of MATMULS) {
      const name = `matmul ${dtype} ${label}`
      guard(name, () => {
        const { a, b, bias } = operands(batch, M, N, K, ta, tb, bb, dtype)
        const ref = poisoned([batch, M, N], dtype, 'cpu')
        const got = poisoned([batch, M, N], dtype, 'cuda')
        ref.backend.matmul(ref, a, b, withBias ? bias : null)
        got.backend.matmul(got, onDevice(a), onDevice(b), withBias ? bias.cuda() : null)
        compare(name, got, ref)
      })
    }
  for (const [label, batch, M, N, K, ta, tb, bb, withBias] of [
    ...MATMULS,
    ['large 1024', 1, 1024, 1024, 1024, false, false, false, false],
  ]) {
    const name = `gemmBf16 ${label}`
    guard(name, () => {
      const { a, b, bias } = operands(batch, M, N, K, ta, tb, bb, 'float32')
      const ref = poisoned([batch, M, N], 'float64', 'cpu')
      ref.backend.matmul(ref, a.double(), b.double(), withBias ? bias.double() : null)
      const got = poisoned([batch, M, N], 'float32', 'cuda')
      got.backend.run('gemmBf16', got, onDevice(a), onDevice(b), withBias ? bias.cuda() : null)
      compare(name, got.double(), ref, TOL.bf16)
    })
  }
}

function checkMemory() {
  guard('caching allocator', () => {
    cuda.synchronize()
    const before = cuda.memoryStats()
    const round = () => {
      const ts = []
      for (let i = 1; i <= 50; i++) ts.push(iv.zeros([i * 1000], { device: 'cuda' }))
      for (const t of ts) t.dispose()
    }
    round()
    const mid = cuda.memoryStats()
    round()
    const after = cuda.memoryStats()
    const ok = after.allocatedBytes === before.allocatedBytes && after.cudaMallocs === mid.cudaMallocs
    cuda.emptyCache()
    const emptied = cuda.memoryStats()
    const pass = ok && emptied.cachedBytes === 0
    results.push(['caching allocator: blocks reused, returned, emptied', pass ? 0 : 1, 0, pass])
    if (!pass) console.log('FAIL caching allocator', { before, mid, after, emptied })
  })
  guard('out-of-memory error', () => {
    let message = ''
    try {
      Tensor.empty([2 ** 40], 'uint8', 'cuda')
    } catch (e) {
      message = e.message
    }
    const pass = /out of memory allocating 1099511627776 bytes/.test(message)
    results.push(['out-of-memory error names the size', pass ? 0 : 1, 0, pass])
    if (!pass) console.log(`FAIL out-of-memory message: ${message}`)
    iv.ones([10], { device: 'cuda' }).sum().item() // the device still works afterwards
  })
}

// ---- timing ----

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

function timeMs(fn, iters, repeats = 7) {
  for (let i = 0; i < 3; i++) fn()
  cuda.synchronize()
  const ts = []
  for (let r = 0; r < repeats; r++)
    ts.push(
      cuda.time(() => {
        for (let i = 0; i < iters; i++) fn()
      }) / iters,
    )
  return median(ts)
}

function bench() {
  const rows = []
  const n = CASES.elementwise[0].shape[0]
  const x = iv.rand([n]).sub(0.5).cuda()
  const y = iv.rand([n]).sub(0.5).cuda()
  for (const c of CASES.elementwise) {
    const a = x.view(c.shape)
    const b = y.view(c.shape)
    const row = y.narrow(0, 0, c.shape[c.shape.length - 1])
    const out = Tensor.empty(c.shape, 'float32', 'cuda')
    const fns = {
      copy: () => out.backend.copy(out, a),
      add: () => a.add(b).dispose(),
      mulScalar: () => a.mul(2.5).dispose(),
      relu: () => a.relu().dispose(),
      gelu: () => a.gelu().dispose(),
      addRow: () => a.add(row).dispose(),
      sumAll: () => a.sum().dispose(),
      sumLast: () => a.sum(-1).dispose(),
      sumFirst: () => a.sum(0).dispose(),
      maxLast: () => a.max(-1).dispose(),
    }
    const ms = timeMs(fns[c.op], 20)
    const numel = c.shape.reduce((p, s) => p * s, 1)
    rows.push({
      key: `ew:${c.name}`,
      what: `${c.name} [${c.shape.join(', ')}]`,
      ms,
      rate: `${((numel * c.bytesPerElem) / ms / 1e6).toFixed(0)} GB/s`,
    })
    out.dispose()
  }
  for (const size of CASES.gemm) {
    const a = x.narrow(0, 0, size * size).view([1, size, size])
    const b = y.narrow(0, 0, size * size).view([1, size, size])
    const out = Tensor.empty([1, size, size], 'float32', 'cuda')
    const flop = 2 * size ** 3
    const itersF32 = Math.min(50, Math.ceil(2e11 / flop))
    const itersBf16 = Math.min(50, Math.ceil(2e12 / flop))
    const f32 = timeMs(() => out.backend.matmul(out, a, b, null), itersF32)
    rows.push({
      key: `gemm:f32:${size}`,
      what: `GEMM f32 ${size}`,
      ms: f32,
      rate: `${(flop / f32 / 1e9).toFixed(1)} TFLOP/s`,
    })
    const bf = timeMs(() => out.backend.run('gemmBf16', out, a, b, null), itersBf16)
    rows.push({
      key: `gemm:bf16:${size}`,
      what: `GEMM bf16 ${size} (with fp32->bf16 packing)`,
      ms: bf,
      rate: `${(flop / bf / 1e9).toFixed(1)} TFLOP/s`,
    })
    const kernel = out.backend.run('timeGemmBf16', size, size, size, Math.max(5, itersBf16))
    rows.push({
      key: `gemm:bf16:${size}`,
      what: `GEMM bf16 ${size} (kernel only)`,
      ms: kernel,
      rate: `${(flop / kernel / 1e9).toFixed(1)} TFLOP/s`,
    })
    out.dispose()
  }
  return rows
}

function table(rows, torch) {
  const copyTorch = torch['ew:copy']
  const lines = [`| op | ours ms | torch ms | torch/ours | ours rate |`, `| --- | ---: | ---: | ---: | ---: |`]
  for (const r of rows) {
    const t = torch[r.key]
    lines.push(
      `| ${r.what} | ${r.ms.toFixed(4)} | ${t === undefined ? '-' : t.toFixed(4)} | ${t === undefined ? '-' : (t / r.ms).toFixed(2)} | ${r.rate} |`,
    )
  }
  if (copyTorch)
    lines.push(
      `\nMeasured copy ceiling (torch copy_): ${((CASES.elementwise[0].shape[0] * 8) / copyTorch / 1e6).toFixed(0)} GB/s`,
    )
  return lines.join('\n')
}

function main() {
  const started = Date.now()
  const seed = Number(process.env.SEED ?? Date.now() % 100000)
  console.log(`device: ${cuda.deviceName()}, seed ${seed} (SEED=${seed} repeats this run's inputs)`)
  iv.manualSeed(seed)
  for (const [label, fn] of [
    ['unary', checkUnary],
    ['binary', checkBinary],
    ['where/copy/fill', checkWhereCopyFill],
    ['reduce', checkReduce],
    ['matmul', checkMatmul],
    ['memory', checkMemory],
  ]) {
    const t0 = Date.now()
    fn()
    console.log(`checked ${label} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  }
  const failed = results.filter((r) => !r[3])
  const worst = (prefix, tolKey) => {
    const rs = results.filter((r) => r[0].includes(prefix) && r[3] && r[2] > 0)
    return rs.length ? Math.max(...rs.map((r) => r[1])).toExponential(2) + ` (tolerance ${TOL[tolKey]})` : '-'
  }
  fs.writeFileSync(path.join(OUT, 'check.json'), JSON.stringify(results, null, 1))
  const summary = [
    `correctness: ${results.length - failed.length}/${results.length} passed${failed.length ? `; FAILED: ${failed.map((r) => r[0]).join('; ')}` : ''}`,
    `worst relative error: float32 ${worst('float32', 'float32')}, float64 ${worst('float64', 'float64')}, bf16 GEMM ${worst('gemmBf16', 'bf16')}`,
  ].join('\n')
  console.log(summary)
  let torch = {}
  const torchFile = path.join(OUT, 'torch.json')
  if (fs.existsSync(torchFile) && fs.statSync(torchFile).size > 0)
    torch = JSON.parse(fs.readFileSync(torchFile, 'utf8'))
  const rows = bench()
  const text = [
    `# CUDA backend check: ${cuda.deviceName()}, ${new Date().toISOString().slice(0, 10)}, torch ${torch.torch ?? 'not run'}`,
    summary,
    '',
    table(rows, torch),
    `\n(${((Date.now() - started) / 1000).toFixed(0)} s; command: bash bench/gpu/check.sh)`,
  ].join('\n')
  fs.writeFileSync(path.join(OUT, 'table.md'), text + '\n')
  console.log('\n' + text)
  process.exitCode = failed.length ? 1 : 0
}

main()
