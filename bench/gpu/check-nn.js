'use strict'
// The CUDA check of attention, softmax, layer norm, cross-entropy and the fused optimizer
// steps (native/cuda/binding/{attention,softmax,norm,loss,optim}.cc), run by bench/gpu/check.sh
// after check.js, from the compiled lib/. Each kernel is called through backend.run with the same arguments on both
// devices (the TS ops' calls), on fresh random inputs, outputs poisoned with NaN first;
// relative error ||out - ref|| / ||ref|| under 1e-5 for float32 and 1e-12 for float64 (a
// non-finite reference value must be matched exactly). Then timings against PyTorch on the
// same card in the same run (bench/gpu/torch_nn.py), as a table (also $OUT/nn-table.md).
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const iv = require('../../lib')
const cuda = require('../../lib/cuda')

const { OUT, TOL, results, poisoned, compare, guard } = require('./common')
const { Tensor } = iv

function rnd(shape, dtype = 'float32', kind = 'normal') {
  if (kind === 'positive') return iv.rand(shape, { dtype }).add(0.1)
  return iv.randn(shape, { dtype })
}
// A fresh pair: a poisoned host tensor and a poisoned device tensor.
function outs(shape, dtype) {
  return [poisoned(shape, dtype, 'cpu'), poisoned(shape, dtype, 'cuda')]
}

function compareNumber(name, got, ref, tol) {
  const err = ref === 0 ? Math.abs(got - ref) : Math.abs(got - ref) / Math.abs(ref)
  const pass = (Object.is(got, ref) || err <= tol) && !Number.isNaN(got)
  results.push([name, err, tol, pass])
  if (!pass) console.log(`FAIL ${name}: got ${got}, expected ${ref}`)
}
const runBoth = (name, cpuArgs, cudaArgs) => [
  cpuArgs[0].backend.run(name, ...cpuArgs),
  cudaArgs[0].backend.run(name, ...cudaArgs),
]

// ---- attention ----

function maskFor(kind, B, L, S, dtype) {
  if (kind === 'bool') {
    // [1, L, S] broadcast over the batch (stride 0, as the op layer passes it), row 3 fully masked.
    const d = iv.rand([L, S]).data()
    const m = new Uint8Array(L * S)
    for (let i = 0; i < L * S; i++) m[i] = Math.floor(i / S) === 3 ? 0 : d[i] < 0.8 ? 1 : 0
    const t = iv.tensor(Array.from(m), { shape: [1, L, S], dtype: 'int32' }).to('bool')
    return t.expand([B, L, S])
  }
  if (kind === 'additive') return rnd([B, L, S], dtype)
  return null
}

function checkAttention() {
  const cases = []
  for (const E of [32, 48, 64, 128])
    for (const mask of ['none', 'causal', 'bool', 'additive']) cases.push(['float32', 5, 77, 93, E, E, mask])
  cases.push(
    ['float32', 3, 130, 130, 64, 64, 'causal'],
    ['float32', 4, 70, 50, 16, 16, 'none'],
    ['float32', 4, 40, 66, 64, 32, 'bool'],
  )
  for (const mask of ['none', 'causal', 'bool', 'additive']) cases.push(['float64', 3, 45, 61, 32, 32, mask])
  cases.push(['float64', 2, 33, 20, 48, 24, 'additive'])
  for (const [dtype, B, L, S, E, Ev, maskKind] of cases) {
    const name = `attention ${dtype} B${B} L${L} S${S} E${E}${Ev !== E ? ` Ev${Ev}` : ''} ${maskKind}`
    guard(name, () => {
      const causal = maskKind === 'causal'
      const q = rnd([B, L, E], dtype)
      const k = rnd([B, S, E], dtype)
      const v = rnd([B, S, Ev], dtype)
      const mask = maskFor(maskKind, B, L, S, dtype)
      const scale = 1 / Math.sqrt(E)
      const [outC, outD] = outs([B, L, Ev], dtype)
      const [lseC, lseD] = outs([B, L], dtype)
      const dm = (t) => (t ? t.cuda() : null)
      runBoth(
        'attentionForward',
        [outC, lseC, q, k, v, mask, causal, scale, 0, 0, 0],
        [outD, lseD, q.cuda(), k.cuda(), v.cuda(), dm(mask), causal, scale, 0, 0, 0],
      )
      compare(`${name} forward out`, outD, outC)
      compare(`${name} forward lse`, lseD, lseC)
      const g = rnd([B, L, Ev], dtype)
      const [dqC, dqD] = outs([B, L, E], dtype)
      const [dkC, dkD] = outs([B, S, E], dtype)
      const [dvC, dvD] = outs([B, S, Ev], dtype)
      const wantMask = maskKind === 'additive'
      const dmC = wantMask ? iv.zeros([B, L, S], { dtype }) : null
      const dmD = wantMask ? poisoned([B, L, S], dtype, 'cuda') : null
      runBoth(
        'attentionBackward',
        [dqC, dkC, dvC, dmC, g, q, k, v, outC, lseC, mask, causal, scale, 0, 0, 0],
        [
          dqD,
          dkD,
          dvD,
          dmD,
          g.cuda(),
          q.cuda(),
          k.cuda(),
          v.cuda(),
          outC.cuda(),
          lseC.cuda(),
          dm(mask),
          causal,
          scale,
          0,
          0,
          0,
        ],
      )
      compare(`${name} backward dq`, dqD, dqC)
      compare(`${name} backward dk`, dkD, dkC)
      compare(`${name} backward dv`, dvD, dvC)
      if (wantMask) compare(`${name} backward dmask`, dmD, dmC)
    })
  }
  guard('attention dropout refused on CUDA', () => {
    const q = rnd([1, 4, 32]).cuda()
    const [o, l] = [poisoned([1, 4, 32], 'float32', 'cuda'), poisoned([1, 4], 'float32', 'cuda')]
    let threw = false
    try {
      q.backend.run('attentionForward', o, l, q, q, q, null, false, 0.1, 0.1, 1, 2)
    } catch (e) {
      threw = /not supported on CUDA/.test(String(e.message))
    }
    results.push(['attention dropout refused on CUDA', 0, 0, threw])
    if (!threw) console.log('FAIL attention dropout refused on CUDA')
  })
}

// ---- softmax ----

function checkSoftmax() {
  for (const dtype of ['float32', 'float64'])
    for (const shape of [
      [300, 1000, 1],
      [64, 37, 1],
      [7, 33, 129],
      [3, 4100, 1],
    ])
      for (const log of [false, true]) {
        const name = `${log ? 'logSoftmax' : 'softmax'} ${dtype} [${shape}]`
        guard(name, () => {
          const x = rnd(shape, dtype).mul(3)
          const [yC, yD] = outs(shape, dtype)
          runBoth('softmaxForward', [yC, x, log], [yD, x.cuda(), log])
          compare(`${name} forward`, yD, yC)
          const g = rnd(shape, dtype)
          const [gxC, gxD] = outs(shape, dtype)
          runBoth('softmaxBackward', [gxC, g, yC, log], [gxD, g.cuda(), yC.cuda(), log])
          compare(`${name} backward`, gxD, gxC)
        })
      }
}

// ---- layer norm ----

function checkLayerNorm() {
  for (const dtype of ['float32', 'float64'])
    for (const [M, K] of [
      [1000, 768],
      [37, 100],
      [5, 3000],
    ])
      for (const affine of [true, false]) {
        const name = `layerNorm ${dtype} [${M}, ${K}]${affine ? '' : ' no affine'}`
        guard(name, () => {
          const x = rnd([M, K], dtype).mul(2).add(0.5)
          const w = affine ? rnd([K], dtype) : null
          const b = affine ? rnd([K], dtype) : null
          const [oC, oD] = outs([M, K], dtype)
          const [mC, mD] = outs([M], dtype)
          const [rC, rD] = outs([M], dtype)
          const dev = (t) => (t ? t.cuda() : null)
          runBoth('layerNormForward', [oC, x, w, b, mC, rC, 1e-5], [oD, x.cuda(), dev(w), dev(b), mD, rD, 1e-5])
          compare(`${name} forward`, oD, oC)
          compare(`${name} forward mean`, mD, mC)
          compare(`${name} forward rstd`, rD, rC)
          const g = rnd([M, K], dtype)
          const [gxC, gxD] = outs([M, K], dtype)
          const [gwC, gwD] = outs([K], dtype)
          const [gbC, gbD] = outs([K], dtype)
          runBoth(
            'layerNormBackward',
            [gxC, gwC, gbC, g, x, w, mC, rC],
            [gxD, gwD, gbD, g.cuda(), x.cuda(), dev(w), mC.cuda(), rC.cuda()],
          )
          compare(`${name} backward dx`, gxD, gxC)
          compare(`${name} backward dw`, gwD, gwC)
          compare(`${name} backward db`, gbD, gbC)
        })
      }
}

// ---- cross-entropy ----

function checkCrossEntropy() {
  const cases = [
    ['index', 256, 1000, 1, false, -100, 0],
    ['index weighted, ignore, smoothing', 256, 1000, 1, true, 7, 0.1],
    ['index spatial', 4, 21, 50, true, 3, 0.05],
    ['probabilities', 64, 100, 1, true, -100, 0.1],
    ['probabilities spatial', 3, 10, 40, false, -100, 0],
  ]
  for (const dtype of ['float32', 'float64'])
    for (const [kind, N, C, S, weighted, ignore, smoothing] of cases) {
      const name = `crossEntropy ${dtype} ${kind} [${N}, ${C}, ${S}]`
      guard(name, () => {
        const x = rnd([N, C, S], dtype).mul(3)
        const probs = kind.startsWith('prob')
        const t = probs ? iv.rand([N, C, S], { dtype }) : iv.randint(0, C, [N, S], { dtype: 'int32' })
        const w = weighted ? rnd([C], dtype, 'positive') : null
        const dev = (a) => (a ? a.cuda() : null)
        const [lC, lD] = outs([N, S], dtype)
        const [sC, sD] = outs([N, S], dtype)
        const [dC, dD] = runBoth(
          'crossEntropyForward',
          [lC, sC, x, t, w, ignore, smoothing],
          [lD, sD, x.cuda(), t.cuda(), dev(w), ignore, smoothing],
        )
        compare(`${name} forward loss`, lD, lC)
        compare(`${name} forward lse`, sD, sC)
        compareNumber(`${name} forward denominator ${dtype}`, dD, dC, dtype === 'float32' ? 1e-5 : 1e-12)
        // gradLoss as the 'mean' reduction passes it: one value broadcast (stride 0).
        const g1 = rnd([1, 1], dtype)
        const gl = g1.expand([N, S])
        const [gxC, gxD] = outs([N, C, S], dtype)
        runBoth(
          'crossEntropyBackward',
          [gxC, x, t, w, sC, gl, 1 / dC, ignore, smoothing],
          [gxD, x.cuda(), t.cuda(), dev(w), sC.cuda(), g1.cuda().expand([N, S]), 1 / dC, ignore, smoothing],
        )
        compare(`${name} backward`, gxD, gxC)
      })
    }
  guard('crossEntropy target out of range refused', () => {
    const x = rnd([4, 5, 1]).cuda()
    const t = iv.tensor([0, 1, 9, 2], { shape: [4, 1], dtype: 'int32' }).cuda()
    let threw = false
    try {
      x.backend.run(
        'crossEntropyForward',
        poisoned([4, 1], 'float32', 'cuda'),
        poisoned([4, 1], 'float32', 'cuda'),
        x,
        t,
        null,
        -100,
        0,
      )
    } catch (e) {
      threw = /out of range/.test(String(e.message))
    }
    results.push(['crossEntropy target out of range refused', 0, 0, threw])
    if (!threw) console.log('FAIL crossEntropy target out of range refused')
  })
}

// ---- optimizers ----

function checkOptim() {
  const n = 100003
  for (const dtype of ['float32', 'float64']) {
    const tol = TOL[dtype]
    const cases = [
      [
        `sgdStep ${dtype} plain`,
        [['param'], ['grad']],
        (s) => ['sgdStep', s[0], s[1], null, 0.1, 0, 0, 0, false, false, false],
      ],
      [
        `sgdStep ${dtype} momentum wd nesterov`,
        [['param'], ['grad'], ['buf']],
        (s) => ['sgdStep', s[0], s[1], s[2], 0.1, 0.9, 0, 1e-4, true, false, false],
      ],
      [
        `sgdStep ${dtype} first step, dampening, maximize`,
        [['param'], ['grad'], ['buf']],
        (s) => ['sgdStep', s[0], s[1], s[2], 0.1, 0.9, 0.1, 0, false, true, true],
      ],
      [
        `larsStep ${dtype}`,
        [['param'], ['grad'], ['buf']],
        (s) => ['larsStep', s[0], s[1], s[2], 0.1, 0.9, 0, 1e-4, false, 0.001, 1e-8, true, true, false],
      ],
      [
        `adamwStep ${dtype}`,
        [['param'], ['grad'], ['expAvg'], ['expAvgSq', 'positive']],
        (s) => ['adamwStep', s[0], s[1], s[2], s[3], null, 1e-3, 0.9, 0.999, 1e-8, 0.05, 7, false],
      ],
      [
        `adamStep ${dtype} amsgrad wd`,
        [['param'], ['grad'], ['expAvg'], ['expAvgSq', 'positive'], ['maxExpAvgSq', 'positive']],
        (s) => ['adamStep', s[0], s[1], s[2], s[3], s[4], 1e-3, 0.9, 0.999, 1e-8, 0.01, 3, true],
      ],
      [`emaUpdate ${dtype}`, [['ema'], ['src']], (s) => ['emaUpdate', s[0], s[1], 0.9998]],
      [`optimScale ${dtype}`, [['x']], (s) => ['optimScale', s[0], 0.37]],
      ...[2, 1, 3, Infinity].map((p) => [`optimNormPow ${dtype} p=${p}`, [['x']], (s) => ['optimNormPow', s[0], p]]),
    ]
    for (const [name, stateNames, argsFor] of cases)
      guard(name, () => {
        const host = stateNames.map(([, kind]) => rnd([n], dtype, kind))
        const dev = host.map((t) => t.cuda())
        const [op, ...hostArgs] = argsFor(host)
        const [, ...devArgs] = argsFor(dev)
        const rc = host[0].backend.run(op, ...hostArgs)
        const rd = dev[0].backend.run(op, ...devArgs)
        if (typeof rc === 'number') compareNumber(`${name} result`, rd, rc, tol)
        stateNames.forEach(([sn], i) => compare(`${name} ${sn}`, dev[i], host[i], tol))
      })
  }
}

// ---- timings ----

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
function timeMs(fn, iters, repeats = 5) {
  for (let i = 0; i < 2; i++) fn()
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

// The shapes torch_nn.py times too (same keys).
const BENCH = {
  attention: [
    [192, 196, 32],
    [192, 196, 64],
    [16, 3136, 32],
    [16, 3136, 64],
  ],
  layerNorm: [
    [50176, 384],
    [12544, 768],
  ],
  softmax: [[37632, 196]],
  crossEntropy: [[256, 1000]],
  adamw: [10_000_000],
}

function bench() {
  const rows = []
  const run = (name, ...a) => a[0].backend.run(name, ...a)
  for (const [B, L, E] of BENCH.attention) {
    const q = rnd([B, L, E]).cuda()
    const k = rnd([B, L, E]).cuda()
    const v = rnd([B, L, E]).cuda()
    const g = rnd([B, L, E]).cuda()
    const o = Tensor.empty([B, L, E], 'float32', 'cuda')
    const lse = Tensor.empty([B, L], 'float32', 'cuda')
    const [dq, dk, dv] = [0, 1, 2].map(() => Tensor.empty([B, L, E], 'float32', 'cuda'))
    const s = 1 / Math.sqrt(E)
    const fwd = () => run('attentionForward', o, lse, q, k, v, null, false, s, 0, 0, 0)
    const bwd = () => run('attentionBackward', dq, dk, dv, null, g, q, k, v, o, lse, null, false, s, 0, 0, 0)
    const iters = L > 1000 ? 3 : 10
    const f = timeMs(fwd, iters)
    const fb = timeMs(() => {
      fwd()
      bwd()
    }, iters)
    const flop = 4 * B * L * L * E
    rows.push({
      key: `attn:${B}:${L}:${E}:fwd`,
      what: `attention fwd B*H ${B}, L ${L}, E ${E}`,
      ms: f,
      rate: `${(flop / f / 1e9).toFixed(1)} TFLOP/s`,
    })
    rows.push({
      key: `attn:${B}:${L}:${E}:fwdbwd`,
      what: `attention fwd+bwd B*H ${B}, L ${L}, E ${E}`,
      ms: fb,
      rate: `${((3.5 * flop) / fb / 1e9).toFixed(1)} TFLOP/s`,
    })
    for (const t of [q, k, v, g, o, lse, dq, dk, dv]) t.dispose()
  }
  for (const [M, K] of BENCH.layerNorm) {
    const x = rnd([M, K]).cuda()
    const w = rnd([K]).cuda()
    const b = rnd([K]).cuda()
    const g = rnd([M, K]).cuda()
    const o = Tensor.empty([M, K], 'float32', 'cuda')
    const gx = Tensor.empty([M, K], 'float32', 'cuda')
    const [mean, rstd] = [0, 1].map(() => Tensor.empty([M], 'float32', 'cuda'))
    const [gw, gb] = [0, 1].map(() => Tensor.empty([K], 'float32', 'cuda'))
    const f = () => run('layerNormForward', o, x, w, b, mean, rstd, 1e-5)
    const ms = timeMs(f, 20)
    const msfb = timeMs(() => {
      f()
      run('layerNormBackward', gx, gw, gb, g, x, w, mean, rstd)
    }, 20)
    rows.push({
      key: `ln:${M}:${K}:fwd`,
      what: `layerNorm fwd [${M}, ${K}]`,
      ms,
      rate: `${((2 * M * K * 4) / ms / 1e6).toFixed(0)} GB/s`,
    })
    rows.push({
      key: `ln:${M}:${K}:fwdbwd`,
      what: `layerNorm fwd+bwd [${M}, ${K}]`,
      ms: msfb,
      rate: `${((7 * M * K * 4) / msfb / 1e6).toFixed(0)} GB/s`,
    })
  }
  for (const [M, K] of BENCH.softmax) {
    const x = rnd([M, K, 1]).cuda()
    const g = rnd([M, K, 1]).cuda()
    const y = Tensor.empty([M, K, 1], 'float32', 'cuda')
    const gx = Tensor.empty([M, K, 1], 'float32', 'cuda')
    const f = () => run('softmaxForward', y, x, false)
    const ms = timeMs(f, 20)
    const msfb = timeMs(() => {
      f()
      run('softmaxBackward', gx, g, y, false)
    }, 20)
    rows.push({
      key: `softmax:${M}:${K}:fwd`,
      what: `softmax fwd [${M}, ${K}]`,
      ms,
      rate: `${((2 * M * K * 4) / ms / 1e6).toFixed(0)} GB/s`,
    })
    rows.push({
      key: `softmax:${M}:${K}:fwdbwd`,
      what: `softmax fwd+bwd [${M}, ${K}]`,
      ms: msfb,
      rate: `${((5 * M * K * 4) / msfb / 1e6).toFixed(0)} GB/s`,
    })
  }
  for (const [N, C] of BENCH.crossEntropy) {
    const x = rnd([N, C, 1]).cuda()
    const t = iv.randint(0, C, [N, 1], { dtype: 'int32' }).cuda()
    const loss = Tensor.empty([N, 1], 'float32', 'cuda')
    const lse = Tensor.empty([N, 1], 'float32', 'cuda')
    const gx = Tensor.empty([N, C, 1], 'float32', 'cuda')
    const g1 = iv.ones([1, 1]).cuda()
    const ms = timeMs(() => {
      const d = run('crossEntropyForward', loss, lse, x, t, null, -100, 0)
      run('crossEntropyBackward', gx, x, t, null, lse, g1.expand([N, 1]), 1 / d, -100, 0)
    }, 20)
    rows.push({
      key: `ce:${N}:${C}:fwdbwd`,
      what: `crossEntropy fwd+bwd [${N}, ${C}] (fwd syncs: target check)`,
      ms,
      rate: '-',
    })
  }
  for (const n of BENCH.adamw) {
    const [p, g, m, v] = [rnd([n]), rnd([n]), rnd([n]), rnd([n], 'float32', 'positive')].map((t) => t.cuda())
    let step = 1
    const ms = timeMs(() => run('adamwStep', p, g, m, v, null, 1e-3, 0.9, 0.999, 1e-8, 0.05, step++, false), 20)
    rows.push({
      key: `adamw:${n}`,
      what: `adamwStep ${n / 1e6}M params`,
      ms,
      rate: `${((7 * n * 4) / ms / 1e6).toFixed(0)} GB/s`,
    })
  }
  return rows
}

function torchTimes() {
  const r = spawnSync('python3', [path.join(__dirname, 'torch_nn.py')], {
    input: JSON.stringify(BENCH),
    encoding: 'utf8',
    timeout: 100_000,
  })
  if (r.status !== 0 || !r.stdout) {
    console.log(
      `torch_nn.py failed (${r.error ? r.error.message : `status ${r.status}`}): ${(r.stderr || '').split('\n').slice(-5).join(' | ')}`,
    )
    return {}
  }
  fs.writeFileSync(path.join(OUT, 'torch-nn.json'), r.stdout)
  return JSON.parse(r.stdout)
}

function main() {
  const started = Date.now()
  const seed = Number(process.env.SEED ?? Date.now() % 100000)
  console.log(`device: ${cuda.deviceName()}, seed ${seed} (SEED=${seed} repeats this run's inputs)`)
  iv.manualSeed(seed)
  for (const [label, fn] of [
    ['attention', checkAttention],
    ['softmax', checkSoftmax],
    ['layerNorm', checkLayerNorm],
    ['crossEntropy', checkCrossEntropy],
    ['optim', checkOptim],
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
  fs.writeFileSync(path.join(OUT, 'check-nn.json'), JSON.stringify(results, null, 1))
  const summary = [
    `nn correctness: ${results.length - failed.length}/${results.length} passed${failed.length ? `; FAILED: ${failed.map((r) => r[0]).join('; ')}` : ''}`,
    `worst relative error: float32 ${worst('float32')}, float64 ${worst('float64')}`,
  ].join('\n')
  console.log(summary)
  const timings = process.env.NN_BENCH !== '0' // NN_BENCH=0: correctness only
  const torch = timings ? torchTimes() : {}
  let rows = []
  try {
    if (timings) rows = bench()
  } catch (e) {
    console.log(`FAIL timings: ${e.stack}`)
    process.exitCode = 1
  }
  const lines = ['| op | ours ms | torch ms | torch/ours | ours rate |', '| --- | ---: | ---: | ---: | ---: |']
  for (const r of rows) {
    const t = torch[r.key]
    lines.push(
      `| ${r.what} | ${r.ms.toFixed(4)} | ${t === undefined ? '-' : t.toFixed(4)} | ${t === undefined ? '-' : (t / r.ms).toFixed(2)} | ${r.rate} |`,
    )
  }
  const text = [
    `# CUDA nn ops check: ${cuda.deviceName()}, ${new Date().toISOString().slice(0, 10)}, torch ${torch.torch ?? 'not run'}`,
    summary,
    '',
    lines.join('\n'),
    `\ntorch: attention is F.scaled_dot_product_attention in float32 (${torch.sdpa_backend ?? '?'}), adamw torch.optim.AdamW(${torch.adamw_impl ?? '?'}); TF32 off.`,
    `(${((Date.now() - started) / 1000).toFixed(0)} s; command: node bench/gpu/check-nn.js)`,
  ].join('\n')
  fs.writeFileSync(path.join(OUT, 'nn-table.md'), text + '\n')
  console.log('\n' + text)
  if (failed.length) process.exitCode = 1
}

main()
