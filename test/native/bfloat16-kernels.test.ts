import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

// The bfloat16 matmul and conv kernels on every kernel set: each child lowers the set with
// INTERN_VISION_ISA (the default runs AVX512-BF16 where the CPU has it, "avx512" the float
// AVX-512 kernels on widened operands) and measures its outputs against float64 references
// (bfloat16-kernels-worker.js).
interface Report {
  cpu: { isa: string; detectedIsa: string; bf16: boolean }
  cases: { name: string; worst: number; misrounded: number; n: number }[]
  refusals: Record<string, string>
}

function run(isa: string | undefined): Report {
  const env = { ...process.env }
  delete env.INTERN_VISION_ISA
  if (isa) env.INTERN_VISION_ISA = isa
  const r = spawnSync(process.execPath, [path.join(__dirname, 'bfloat16-kernels-worker.js')], { env, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Report
}

const cpuHasBf16 = fs.existsSync('/proc/cpuinfo') && /\bavx512_bf16\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'))

for (const isa of [undefined, 'avx512', 'avx2', 'generic']) {
  t.test(`bfloat16 kernels, INTERN_VISION_ISA=${isa ?? '(unset)'}`, async (t) => {
    const report = run(isa)
    if (isa && report.cpu.isa !== isa) t.comment(`this CPU lacks ${isa}; ran ${report.cpu.isa}`)
    if (isa) t.equal(report.cpu.bf16, false, 'a lowered kernel set never runs AVX512-BF16')
    else if (process.platform === 'linux' && report.cpu.detectedIsa === 'avx512')
      t.equal(report.cpu.bf16, cpuHasBf16, 'AVX512-BF16 runs exactly where /proc/cpuinfo lists avx512_bf16')
    for (const c of report.cases) {
      t.ok(c.worst <= 1, `${c.name}: within 1 ulp of the correct rounding (worst ${c.worst.toFixed(3)} of 1.5 ulp)`)
      t.ok(c.misrounded <= c.n / 100, `${c.name}: ${c.misrounded} of ${c.n} outputs not the correct rounding`)
    }
    t.match(report.refusals['matmul mixed'], /^matmul: a, b and out must share a float dtype, got a bfloat16, b float32, out bfloat16/)
    t.match(report.refusals['matmul bias'], /^matmul: bias must be 1-d of length 5 and dtype bfloat16, got float32 \[5\]/)
    t.match(report.refusals['conv2d mixed'], /^conv2d: tensors must share a float dtype, got x bfloat16, weight float32, out bfloat16/)
    t.match(report.refusals['conv2d bias'], /^conv2d: bias must be a contiguous 1-d bfloat16 tensor of 3 elements, got float32/)
    t.match(
      report.refusals['conv2dBackwardWeight gradBias'],
      /^conv2dBackwardWeight: gradBias must be a contiguous 1-d bfloat16 tensor of 3 elements, got float32/,
    )
  })
}
