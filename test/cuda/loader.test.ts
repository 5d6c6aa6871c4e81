// The CUDA loader without a GPU: it must say why CUDA is off, in one line, and leave the
// CPU path exactly as it was. On a machine with a working GPU the unavailable-path tests
// are skipped (test/cuda/<family>.test.ts and bench/gpu/check.sh cover that side).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../../src'
import * as cuda from '../../src/cuda'
import { cudaBinaryCandidates, loadCudaAddon, probeInChild } from '../../src/backend/cuda-loader'

const available = cuda.isAvailable()

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  for (const [k, v] of Object.entries(vars))
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  try {
    return fn()
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
  }
}

t.test('unavailable CUDA is reported with one reason line', { skip: available && 'a GPU is present' }, async (t) => {
  t.equal(cuda.isAvailable(), false)
  const reason = cuda.unavailableReason()
  t.type(reason, 'string')
  t.notMatch(reason as string, /\n/, 'one line')
  t.ok((reason as string).length > 10, `reason: ${reason}`)
  t.equal(cuda.deviceCount(), 0)
  t.same(cuda.memoryStats().allocatedBytes, 0)
  t.doesNotThrow(() => cuda.emptyCache())
  t.throws(() => cuda.synchronize(), /synchronize: CUDA is not available/)
  t.throws(() => cuda.deviceName(), /deviceName: CUDA is not available/)
})

t.test(
  "x.to('cuda') fails with a clear error and the CPU path is unaffected",
  { skip: available && 'a GPU is present' },
  async (t) => {
    const x = iv.tensor([
      [1, 2],
      [3, 4],
    ])
    const warn = console.warn
    const printed: string[] = []
    console.warn = (msg: string) => printed.push(msg)
    try {
      t.throws(() => x.to('cuda'), /cannot make a 'cuda' tensor: CUDA is not available: /)
      t.throws(() => iv.zeros([3], { device: 'cuda' }), /CUDA is not available/)
    } finally {
      console.warn = warn
    }
    t.ok(printed.length <= 1, 'the reason is printed at most once')
    t.same(x.matmul(x).toArray(), [
      [7, 10],
      [15, 22],
    ])
    t.same(x.sum().item(), 10)
    t.equal(x.device, 'cpu')
  },
)

t.test('INTERN_VISION_CUDA=0 turns the backend off', async (t) => {
  const r = withEnv({ INTERN_VISION_CUDA: '0' }, () => loadCudaAddon())
  t.same(r, { ok: false, reason: 'disabled by INTERN_VISION_CUDA=0' })
})

t.test('a missing binary is a reason, not an exception', async (t) => {
  const missing = path.join(os.tmpdir(), `iv-no-such-${process.pid}.node`)
  const r = withEnv({ INTERN_VISION_CUDA_BINARY: missing, INTERN_VISION_CUDA: undefined }, () => {
    t.same(cudaBinaryCandidates(), [missing])
    return loadCudaAddon()
  })
  t.equal(r.ok, false)
  t.match((r as { reason: string }).reason, /no CUDA build found/)
})

t.test('a broken binary fails in the probe child and the host carries on', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-cuda-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const garbage = path.join(dir, 'intern-vision-cuda.node')
  fs.writeFileSync(garbage, Buffer.alloc(4096, 0x5a))
  const r = probeInChild(garbage)
  t.ok('reason' in r)
  t.match((r as { reason: string }).reason, /failed to load: .*(invalid ELF header|too short|not an ELF)/i)
  const viaLoader = withEnv({ INTERN_VISION_CUDA_BINARY: garbage, INTERN_VISION_CUDA: undefined }, () =>
    loadCudaAddon(),
  )
  t.equal(viaLoader.ok, false)
  // A file that loads but is not the CUDA addon (a script, not a shared object).
  const script = path.join(dir, 'not-an-addon.node')
  fs.writeFileSync(script, 'module.exports = {}')
  t.match((probeInChild(script) as { reason: string }).reason, /failed to load/)
  t.equal(iv.tensor([1, 2, 3]).mul(2).sum().item(), 12, 'CPU still works')
})

// A binary that kills its process while loading (as a broken driver can): only the probe
// child dies. Needs a C compiler to make one; node-gyp builds need one anyway.
const cc = spawnSync('cc', ['--version']).status === 0
t.test('a binary that crashes on load takes down only the probe child', { skip: !cc && 'no C compiler' }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-cuda-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const src = path.join(dir, 'crash.c')
  const so = path.join(dir, 'crash.node')
  fs.writeFileSync(
    src,
    '#include <signal.h>\n__attribute__((constructor)) static void crash(void) { raise(SIGSEGV); }\n',
  )
  const built = spawnSync('cc', ['-shared', '-fPIC', '-o', so, src])
  t.equal(built.status, 0, String(built.stderr))
  const r = probeInChild(so)
  t.match((r as { reason: string }).reason, /the CUDA probe crashed \(SIGSEGV\)/)
  t.equal(iv.tensor([2, 3]).mul(2).sum().item(), 10, 'the host carries on')
})
