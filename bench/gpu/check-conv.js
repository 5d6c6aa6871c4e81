'use strict'
// The CUDA conv / pooling / batch- and group-norm kernels' check on a GPU machine (run by
// bench/gpu/check.sh after check.js, from the compiled lib/): every entry point against the
// CPU backend on fresh random inputs, outputs poisoned with NaN (or an impossible index)
// first so that an unwritten element shows; float32 within 1e-5 and float64 within 1e-12
// relative norm error, indices exact. Then conv2d forward / input grad / weight grad timings
// at ResNet-50 and depthwise shapes (N = 32) against PyTorch's cuDNN (torch_conv.py, TF32
// off on both sides) on the same card in the same run; the table goes to $OUT/conv-table.md.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const iv = require('../../lib')
const cuda = require('../../lib/cuda')

const { OUT, TOL, results, poisoned, compare, guard } = require('./common')
const { Tensor } = iv

function rnd(shape, dtype, nan = false) {
  const x = iv.randn(shape, { dtype })
  if (!nan) return x
  const d = x.data()
  for (let i = 1; i < d.length; i += 97) d[i] = NaN
  return iv.tensor(d, { shape, dtype })
}

// Runs `name` on the CPU backend with `cpuArgs` and on CUDA with the same arguments moved
// over (tensors copied, everything else as is).
function both(name, args) {
  const dev = args.map((a) => (a instanceof Tensor ? a.cuda() : a))
  args.find((a) => a instanceof Tensor).backend.run(name, ...args)
  dev.find((a) => a instanceof Tensor).backend.run(name, ...dev)
  return dev
}

// ---- convolution ----

// [label, N, C, H, W, K, kh, kw, [sh, sw], [pt, pb, pl, pr], [dh, dw], groups, bias, activation]
const CONVS = [
  ['3x3 s1 p1', 2, 16, 15, 15, 24, 3, 3, [1, 1], [1, 1, 1, 1], [1, 1], 1, true, 'none'],
  ['1x1', 2, 32, 14, 14, 40, 1, 1, [1, 1], [0, 0, 0, 0], [1, 1], 1, false, 'relu'],
  ['1x1 s2', 2, 24, 13, 13, 16, 1, 1, [2, 2], [0, 0, 0, 0], [1, 1], 1, true, 'none'],
  ['3x3 s2 p1', 2, 12, 17, 13, 20, 3, 3, [2, 2], [1, 1, 1, 1], [1, 1], 1, true, 'gelu'],
  ['3x3 dilation 2', 1, 8, 16, 16, 8, 3, 3, [1, 1], [2, 2, 2, 2], [2, 2], 1, false, 'silu'],
  ['3x3 groups 4', 2, 16, 11, 11, 32, 3, 3, [1, 1], [1, 1, 1, 1], [1, 1], 4, true, 'relu'],
  ['4x4 same (asymmetric pad)', 2, 6, 10, 9, 10, 4, 4, [1, 1], [1, 2, 1, 2], [1, 1], 1, true, 'none'],
  ['7x7 s2 p3 stem', 2, 3, 32, 32, 16, 7, 7, [2, 2], [3, 3, 3, 3], [1, 1], 1, false, 'relu'],
  ['5x3 s(2,1) p(2,0) d(1,2)', 2, 10, 12, 14, 6, 5, 3, [2, 1], [2, 2, 0, 0], [1, 2], 1, true, 'none'],
  ['transpose-like pad (1,0)', 2, 8, 9, 9, 8, 3, 3, [2, 2], [1, 0, 1, 0], [1, 1], 1, false, 'none'],
  ['ResNet 3x3 64->64 N=2', 2, 64, 56, 56, 64, 3, 3, [1, 1], [1, 1, 1, 1], [1, 1], 1, false, 'relu'],
  ['depthwise 3x3', 2, 24, 14, 14, 24, 3, 3, [1, 1], [1, 1, 1, 1], [1, 1], 24, true, 'none'],
  ['depthwise 3x3 s2', 2, 24, 15, 15, 24, 3, 3, [2, 2], [1, 1, 1, 1], [1, 1], 24, false, 'silu'],
  ['depthwise 5x5 multiplier 2', 2, 12, 13, 13, 24, 5, 5, [1, 1], [2, 2, 2, 2], [1, 1], 12, true, 'relu'],
  ['depthwise 7x7 dilation 2', 1, 16, 20, 20, 16, 7, 7, [1, 1], [6, 6, 6, 6], [2, 2], 16, false, 'none'],
]

function checkConv() {
  for (const dtype of ['float32', 'float64'])
    for (const [label, N, C, H, W, K, kh, kw, [sh, sw], [pt, pb, pl, pr], [dh, dw], groups, withBias, act] of CONVS) {
      const Ho = Math.floor((H + pt + pb - dh * (kh - 1) - 1) / sh) + 1
      const Wo = Math.floor((W + pl + pr - dw * (kw - 1) - 1) / sw) + 1
      const params = [sh, sw, pt, pb, pl, pr, dh, dw, groups]
      const x = rnd([N, C, H, W], dtype)
      const w = rnd([K, C / groups, kh, kw], dtype)
      const bias = withBias ? rnd([K], dtype) : null
      const gy = rnd([N, K, Ho, Wo], dtype)
      const base = `conv ${label} ${dtype}`
      guard(`${base} forward`, () => {
        const wantPre = act === 'gelu' || act === 'silu'
        const out = poisoned([N, K, Ho, Wo], dtype, 'cpu')
        const pre = wantPre ? poisoned([N, K, Ho, Wo], dtype, 'cpu') : null
        const dev = both('conv2d', [out, x, w, bias, params, act, pre])
        compare(`${base} forward (bias ${withBias}, ${act})`, dev[0], out)
        if (pre) compare(`${base} forward pre-activation`, dev[6], pre)
      })
      guard(`${base} input grad`, () => {
        const gx = poisoned([N, C, H, W], dtype, 'cpu')
        const dev = both('conv2dBackwardInput', [gx, gy, w, params])
        compare(`${base} input grad`, dev[0], gx)
      })
      guard(`${base} weight grad`, () => {
        const gw = poisoned([K, C / groups, kh, kw], dtype, 'cpu')
        const gb = poisoned([K], dtype, 'cpu')
        const dev = both('conv2dBackwardWeight', [gw, gb, gy, x, params])
        compare(`${base} weight grad`, dev[0], gw)
        compare(`${base} bias grad`, dev[1], gb)
      })
    }
  // Through the public op and autograd, on both devices.
  guard('conv2d op + autograd float32', () => {
    const x = rnd([2, 8, 12, 12], 'float32')
    const w = rnd([16, 8, 3, 3], 'float32')
    const b = rnd([16], 'float32')
    const run = (dev) => {
      const xs = (dev === 'cpu' ? x.detach() : x.cuda()).requiresGrad_()
      const ws = (dev === 'cpu' ? w.detach() : w.cuda()).requiresGrad_()
      const bs = (dev === 'cpu' ? b.detach() : b.cuda()).requiresGrad_()
      const y = iv.conv2d(xs, ws, bs, { stride: 2, padding: 1, activation: 'gelu' })
      y.mul(y).sum().backward()
      return [y, xs.grad, ws.grad, bs.grad]
    }
    const [r, g] = [run('cpu'), run('cuda')]
    ;['y', 'x.grad', 'w.grad', 'b.grad'].forEach((n, i) => compare(`conv2d op ${n} float32`, g[i], r[i]))
  })
}

// ---- pooling ----

function checkPool() {
  // [label, shape, params [kh, kw, sh, sw, ph, pw, dh, dw], ceil, nan]
  const MAX = [
    ['3x3 s2 p1 (ResNet)', [2, 8, 56, 56], [3, 3, 2, 2, 1, 1, 1, 1], false, false],
    ['2x2 s2', [2, 5, 13, 12], [2, 2, 2, 2, 0, 0, 1, 1], false, false],
    ['3x3 s2 ceil', [2, 4, 14, 15], [3, 3, 2, 2, 0, 0, 1, 1], true, false],
    ['3x3 dilation 2 p1', [1, 6, 17, 17], [3, 3, 1, 1, 1, 1, 2, 2], false, false],
    ['3x3 s1 with NaN', [2, 3, 11, 11], [3, 3, 1, 1, 1, 1, 1, 1], false, true],
  ]
  const size = (n, k, p, s, d, ceil) => {
    let o = Math.floor((n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1
    if (ceil && (o - 1) * s >= n + p) o--
    return o
  }
  for (const dtype of ['float32', 'float64']) {
    for (const [label, shape, p, ceil, nan] of MAX) {
      const name = `maxPool2d ${label} ${dtype}`
      guard(name, () => {
        const [N, C, H, W] = shape
        const os = [N, C, size(H, p[0], p[4], p[2], p[6], ceil), size(W, p[1], p[5], p[3], p[7], ceil)]
        const x = rnd(shape, dtype, nan)
        const out = poisoned(os, dtype, 'cpu')
        const idx = poisoned(os, 'int32', 'cpu')
        const dev = both('maxPool2d', [out, idx, x, p, ceil])
        compare(`${name} forward`, dev[0], out)
        compare(`${name} indices`, dev[1], idx, 0)
        const gy = rnd(os, dtype)
        const gx = poisoned(shape, dtype, 'cpu')
        gx.backend.run('maxPool2dBackward', gx, gy, idx)
        const gxd = poisoned(shape, dtype, 'cuda')
        gxd.backend.run('maxPool2dBackward', gxd, gy.cuda(), dev[1])
        compare(`${name} backward`, gxd, gx)
      })
    }
    // [label, shape, [kh, kw, sh, sw, ph, pw], ceil, includePad, divisor]
    const AVG = [
      ['3x3 s2 p1 include pad', [2, 6, 15, 15], [3, 3, 2, 2, 1, 1], false, true, 0],
      ['3x3 s2 p1 exclude pad', [2, 6, 15, 15], [3, 3, 2, 2, 1, 1], false, false, 0],
      ['3x3 s2 ceil', [2, 4, 14, 16], [3, 3, 2, 2, 1, 1], true, true, 0],
      ['2x2 divisor 3', [1, 5, 12, 10], [2, 2, 2, 2, 0, 0], false, true, 3],
    ]
    for (const [label, shape, p, ceil, includePad, div] of AVG) {
      const name = `avgPool2d ${label} ${dtype}`
      guard(name, () => {
        const [N, C, H, W] = shape
        const os = [N, C, size(H, p[0], p[4], p[2], 1, ceil), size(W, p[1], p[5], p[3], 1, ceil)]
        const x = rnd(shape, dtype)
        const out = poisoned(os, dtype, 'cpu')
        const dev = both('avgPool2d', [out, x, p, ceil, includePad, div])
        compare(`${name} forward`, dev[0], out)
        const gx = poisoned(shape, dtype, 'cpu')
        const devb = both('avgPool2dBackward', [gx, rnd(os, dtype), p, ceil, includePad, div])
        compare(`${name} backward`, devb[0], gx)
      })
    }
    for (const [label, shape, outHW] of [
      ['7x7 -> 1x1', [4, 32, 7, 7], [1, 1]],
      ['10x13 -> 3x4', [2, 5, 10, 13], [3, 4]],
      ['5x5 -> 7x7', [2, 3, 5, 5], [7, 7]],
    ]) {
      const name = `adaptiveAvgPool2d ${label} ${dtype}`
      guard(name, () => {
        const os = [shape[0], shape[1], ...outHW]
        const out = poisoned(os, dtype, 'cpu')
        const dev = both('adaptiveAvgPool2d', [out, rnd(shape, dtype)])
        compare(`${name} forward`, dev[0], out)
        const gx = poisoned(shape, dtype, 'cpu')
        const devb = both('adaptiveAvgPool2dBackward', [gx, rnd(os, dtype)])
        compare(`${name} backward`, devb[0], gx)
      })
    }
  }
}

// ---- batch norm ----

function checkBatchNorm() {
  for (const dtype of ['float32', 'float64'])
    for (const [label, N, C, S, training, affine] of [
      ['training affine', 8, 32, 49, true, true],
      ['training no affine', 4, 16, 300, true, false],
      ['training large S', 2, 8, 12544, true, true],
      ['eval affine', 8, 32, 49, false, true],
    ]) {
      const name = `batchNorm ${label} ${dtype}`
      guard(name, () => {
        const x = rnd([N, C, S], dtype).mul(2).add(0.5)
        const w = affine ? rnd([C], dtype) : null
        const b = affine ? rnd([C], dtype) : null
        const rm = rnd([C], dtype).mul(0.1)
        const rv = iv.rand([C], { dtype }).add(0.5)
        const out = poisoned([N, C, S], dtype, 'cpu')
        const mean = poisoned([C], dtype, 'cpu')
        const invstd = poisoned([C], dtype, 'cpu')
        const dev = both('batchNormForward', [out, x, w, b, rm, rv, mean, invstd, training, 0.1, 1e-5, 'none'])
        compare(`${name} forward`, dev[0], out)
        compare(`${name} saved mean`, dev[6], mean)
        compare(`${name} saved invstd`, dev[7], invstd)
        compare(`${name} running mean`, dev[4], rm)
        compare(`${name} running var`, dev[5], rv)
        const g = rnd([N, C, S], dtype)
        const gx = poisoned([N, C, S], dtype, 'cpu')
        const gw = affine ? poisoned([C], dtype, 'cpu') : null
        const gb = affine ? poisoned([C], dtype, 'cpu') : null
        const devb = both('batchNormBackward', [gx, gw, gb, g, x, w, mean, invstd, training, b, 'none'])
        compare(`${name} grad x`, devb[0], gx)
        if (affine) {
          compare(`${name} grad weight`, devb[1], gw)
          compare(`${name} grad bias`, devb[2], gb)
        }
      })
    }
}

function checkGroupNorm() {
  for (const dtype of ['float32', 'float64'])
    for (const [label, N, C, S, G, affine] of [
      ['32 groups affine', 4, 64, 49, 32, true],
      ['1 group no affine', 3, 12, 100, 1, false],
      ['per-channel groups', 2, 16, 225, 16, true],
    ]) {
      const name = `groupNorm ${label} ${dtype}`
      guard(name, () => {
        const x = rnd([N, C, S], dtype).mul(3).add(1)
        const w = affine ? rnd([C], dtype) : null
        const b = affine ? rnd([C], dtype) : null
        const out = poisoned([N, C, S], dtype, 'cpu')
        const mean = poisoned([N, G], dtype, 'cpu')
        const rstd = poisoned([N, G], dtype, 'cpu')
        const dev = both('groupNormForward', [out, x, G, w, b, mean, rstd, 1e-5])
        compare(`${name} forward`, dev[0], out)
        compare(`${name} saved mean`, dev[5], mean)
        compare(`${name} saved rstd`, dev[6], rstd)
        const g = rnd([N, C, S], dtype)
        const gx = poisoned([N, C, S], dtype, 'cpu')
        const gw = affine ? poisoned([C], dtype, 'cpu') : null
        const gb = affine ? poisoned([C], dtype, 'cpu') : null
        const devb = both('groupNormBackward', [gx, gw, gb, g, x, G, w, mean, rstd])
        compare(`${name} grad x`, devb[0], gx)
        if (affine) {
          compare(`${name} grad weight`, devb[1], gw)
          compare(`${name} grad bias`, devb[2], gb)
        }
      })
    }
}

// ---- timing ----

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

function timeMs(fn, iters = 10, repeats = 5) {
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

const BENCH =
  process.env.CONV_BENCH === '0'
    ? []
    : [
        {
          label: 'ResNet 3x3 64->64 56x56',
          N: 32,
          C: 64,
          H: 56,
          W: 56,
          K: 64,
          kh: 3,
          kw: 3,
          stride: 1,
          pad: 1,
          groups: 1,
        },
        {
          label: 'ResNet 1x1 256->64 56x56',
          N: 32,
          C: 256,
          H: 56,
          W: 56,
          K: 64,
          kh: 1,
          kw: 1,
          stride: 1,
          pad: 0,
          groups: 1,
        },
        {
          label: 'ResNet 3x3 s2 128->128 56->28',
          N: 32,
          C: 128,
          H: 56,
          W: 56,
          K: 128,
          kh: 3,
          kw: 3,
          stride: 2,
          pad: 1,
          groups: 1,
        },
        {
          label: 'depthwise 3x3 96ch 56x56',
          N: 32,
          C: 96,
          H: 56,
          W: 56,
          K: 96,
          kh: 3,
          kw: 3,
          stride: 1,
          pad: 1,
          groups: 96,
        },
        {
          label: 'depthwise 3x3 384ch 28x28',
          N: 32,
          C: 384,
          H: 28,
          W: 28,
          K: 384,
          kh: 3,
          kw: 3,
          stride: 1,
          pad: 1,
          groups: 384,
        },
      ]

function bench() {
  const rows = []
  for (const s of BENCH) {
    const Ho = Math.floor((s.H + 2 * s.pad - s.kh) / s.stride) + 1
    const Wo = Math.floor((s.W + 2 * s.pad - s.kw) / s.stride) + 1
    const params = [s.stride, s.stride, s.pad, s.pad, s.pad, s.pad, 1, 1, s.groups]
    const x = iv.randn([s.N, s.C, s.H, s.W]).cuda()
    const w = iv.randn([s.K, s.C / s.groups, s.kh, s.kw]).cuda()
    const gy = iv.randn([s.N, s.K, Ho, Wo]).cuda()
    const y = Tensor.empty(gy.shape, 'float32', 'cuda')
    const gx = Tensor.empty(x.shape, 'float32', 'cuda')
    const gw = Tensor.empty(w.shape, 'float32', 'cuda')
    const be = x.backend
    const flop = 2 * s.N * s.K * Ho * Wo * (s.C / s.groups) * s.kh * s.kw
    const passes = {
      fwd: () => be.run('conv2d', y, x, w, null, params, 'none', null),
      dgrad: () => be.run('conv2dBackwardInput', gx, gy, w, params),
      wgrad: () => be.run('conv2dBackwardWeight', gw, null, gy, x, params),
    }
    for (const [pass, fn] of Object.entries(passes)) {
      const ms = timeMs(fn)
      rows.push({ key: `${s.label}:${pass}`, label: s.label, pass, ms, tflops: flop / ms / 1e9 })
    }
    for (const t of [x, w, gy, y, gx, gw]) t.dispose()
  }
  return rows
}

function torchTimes() {
  try {
    const text = execFileSync('python3', [path.join(__dirname, 'torch_conv.py'), JSON.stringify(BENCH)], {
      encoding: 'utf8',
      timeout: 90000,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    return JSON.parse(text.trim().split('\n').pop())
  } catch (e) {
    console.log(
      `torch_conv.py failed: ${String(e.stderr || e.message)
        .split('\n')
        .slice(-5)
        .join(' | ')}`,
    )
    return {}
  }
}

function main() {
  const started = Date.now()
  const seed = Number(process.env.SEED ?? Date.now() % 100000)
  console.log(`device: ${cuda.deviceName()}, seed ${seed} (SEED=${seed} repeats this run's inputs)`)
  iv.manualSeed(seed)
  for (const [label, fn] of [
    ['conv', checkConv],
    ['pool', checkPool],
    ['batchNorm', checkBatchNorm],
    ['groupNorm', checkGroupNorm],
  ]) {
    const t0 = Date.now()
    fn()
    console.log(`checked ${label} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  }
  const failed = results.filter((r) => !r[3])
  const worst = (dtype) => {
    const rs = results.filter((r) => r[0].includes(dtype) && r[3] && r[2] > 0)
    return rs.length ? `${Math.max(...rs.map((r) => r[1])).toExponential(2)} (tolerance ${TOL[dtype]})` : '-'
  }
  fs.writeFileSync(path.join(OUT, 'conv-check.json'), JSON.stringify(results, null, 1))
  const summary = [
    `conv/pool/batchNorm/groupNorm correctness: ${results.length - failed.length}/${results.length} passed${failed.length ? `; FAILED: ${failed.map((r) => r[0]).join('; ')}` : ''}`,
    `worst relative error: float32 ${worst('float32')}, float64 ${worst('float64')}`,
  ].join('\n')
  console.log(summary)
  let rows = []
  try {
    rows = bench()
  } catch (e) {
    console.log(`FAIL conv bench: ${e.stack}`)
    failed.push(['conv bench'])
  }
  const torch = torchTimes()
  const lines = [
    `| conv (float32, N=32) | pass | ours ms | cuDNN ms | cuDNN/ours | ours TFLOP/s |`,
    `| --- | --- | ---: | ---: | ---: | ---: |`,
  ]
  for (const r of rows) {
    const t = torch[r.key]
    lines.push(
      `| ${r.label} | ${r.pass} | ${r.ms.toFixed(3)} | ${t === undefined ? '-' : t.toFixed(3)} | ${t === undefined ? '-' : (t / r.ms).toFixed(2)} | ${r.tflops.toFixed(2)} |`,
    )
  }
  const text = [
    `# CUDA conv check: ${cuda.deviceName()}, ${new Date().toISOString().slice(0, 10)}, torch ${torch.torch ?? 'not run'} (cuDNN ${torch.cudnn ?? '-'}, TF32 off)`,
    summary,
    '',
    lines.join('\n'),
    `\n(${((Date.now() - started) / 1000).toFixed(0)} s; command: node bench/gpu/check-conv.js)`,
  ].join('\n')
  fs.writeFileSync(path.join(OUT, 'conv-table.md'), text + '\n')
  console.log('\n' + text)
  process.exitCode = failed.length ? 1 : 0
}

main()
