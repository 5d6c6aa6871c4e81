// The CPU allocator: blocks of 2 MiB and more are mapped with huge pages asked for, data()
// of a large tensor copies into a huge-page block of the addon's that is reused once V8 frees
// the array, and the cache of freed buffers is sized from the machine's memory unless
// INTERN_VISION_CACHE_BYTES says otherwise.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../../src'
import { cpuBackend, maxCachedBlocks } from '../../src/backend/cpu'
import { native } from '../../src/backend/native'

const SRC = path.join(__dirname, '..', '..', 'src')
const MiB = 2 ** 20

t.test('large blocks count exactly in memoryStats(), move to the cache, and leave on emptyCache()', async (t) => {
  iv.emptyCache()
  const base = iv.memoryStats()
  // 6 MiB + 12 bytes: three huge pages and a tail in small pages
  const x = iv.zeros([6 * MiB + 12], { dtype: 'uint8' })
  t.equal(iv.memoryStats().bytes - base.bytes, 6 * MiB + 12, 'live bytes are the bytes asked for')
  t.equal(iv.memoryStats().blocks - base.blocks, 1)
  t.ok(
    (x.data() as Uint8Array).every((v) => v === 0),
    'the mapped block reads as zeros',
  )
  x.dispose()
  const cached = iv.memoryStats()
  t.equal(cached.bytes, base.bytes, 'a disposed block is no longer live')
  t.equal(cached.cachedBytes - base.cachedBytes, 6 * MiB + 12, 'it waits in the cache')
  iv.emptyCache()
  t.equal(iv.memoryStats().cachedBytes, 0, 'emptyCache() frees it')
})

t.test('data() of large tensors (huge-page destination) returns every element', async (t) => {
  for (const dtype of ['float32', 'float64', 'int32'] as const) {
    const n = 3 * MiB + 5
    const x = iv.arange(0, n, 1, { dtype })
    const d = x.data()
    t.equal(d.length, n, `${dtype} length`)
    let wrong = 0
    for (let i = 0; i < n; i += 997) if (d[i] !== i) wrong++
    t.equal(wrong, 0, `${dtype} values`)
    t.equal(d[n - 1], n - 1, `${dtype} last value`)
    d[0] = -1
    t.equal(x.data()[0], 0, `${dtype}: the array is a copy, not a view of the tensor`)
  }
  const v = iv
    .arange(0, 4 * MiB)
    .reshape([2 * MiB, 2])
    .transpose(0, 1)
  t.same(Array.from(v.data().subarray(0, 3)), [0, 2, 4], 'a strided view reads in its own order')
})

t.test('data() reuses the block of a freed array: exact length, every element its own', async (t) => {
  const n = 3 * MiB
  // Same size class (whole 2 MiB pages), different lengths and contents: a reused block must
  // show only the new array's elements. Each array is freed (detached: V8's deleter runs at
  // once, as when the GC collects it), so the next read-out takes its block.
  for (const [len, sign] of [
    [n, 1],
    [n - 3, -1],
    [n - 1000, 1],
    [n, -1],
  ] as const) {
    const base = iv.arange(0, n + 8).mul(sign)
    // A contiguous view at an offset into its storage.
    const x = base.narrow(0, 5, len)
    const d = x.data() as Float32Array
    t.equal(d.length, len, `length ${len}`)
    t.equal(d.buffer.byteLength, len * 4, 'the array buffer holds exactly the elements')
    let wrong = 0
    for (let i = 0; i < len; i += 1009) if (d[i] !== sign * (i + 5)) wrong++
    t.equal(wrong, 0, `values (sign ${sign})`)
    t.equal(d[len - 1], sign * (len + 4), 'last value')
    base.dispose()
    native.free(d.buffer as ArrayBuffer)
  }
})

t.test('a disposed tensor whose buffer another now holds is refused, and the new tensor is untouched', async (t) => {
  const x = iv.randn([8192])
  const stale = x.reshape([64, 128])
  x.dispose()
  stale.dispose()
  const y = iv.full([8192], 3)
  const handle = (v: iv.Tensor) => (v.storage as unknown as { handle: ArrayBuffer }).handle
  t.equal(handle(y), handle(x), 'the cached buffer went to the next tensor of its size')
  t.throws(() => stale.add(1), /was disposed/, 'an op on a stale view')
  t.throws(
    () => cpuBackend.run('fill', stale, 7),
    /fill: argument 0: the tensor of shape \[64, 128\] was disposed/,
    'a kernel call with a stale view, below the ops',
  )
  t.ok(
    (y.data() as Float32Array).every((v) => v === 3),
    'the new tensor keeps its values',
  )
  y.dispose()
})

t.test('the block of a buffer V8 frees is kept for the next of its size, and emptyCache() frees it', async (t) => {
  iv.emptyCache()
  const base = iv.memoryStats()
  // V8 frees a buffer the GC collects, or one detached, through the same deleter; detaching
  // makes it happen now (the GC's timing is not the test's to choose).
  const x = iv.empty([MiB]) // 4 MiB
  native.free((x.storage as unknown as { handle: ArrayBuffer }).handle)
  const kept = iv.memoryStats()
  t.equal(kept.cachedBytes - base.cachedBytes, 4 * MiB + 4096, 'its mapped span waits for reuse')
  t.equal(kept.bytes, base.bytes, 'and is not live')
  const y = iv.full([MiB], 2)
  t.equal(iv.memoryStats().cachedBytes, base.cachedBytes, 'the next tensor of its size took it')
  t.ok(
    (y.data() as Float32Array).every((v) => v === 2),
    'with its own values',
  )
  y.dispose()
  iv.emptyCache()
  t.equal(iv.memoryStats().cachedBytes, 0, 'emptyCache() leaves nothing cached')
})

t.test('tiny blocks are cached for reuse, up to maxCachedBlocks of them', async (t) => {
  iv.emptyCache()
  const base = native.memoryStats().blocks
  const first = cpuBackend.allocate(12)
  const handle = first.handle
  first.release()
  const again = cpuBackend.allocate(12)
  t.equal(again.handle, handle, 'a released 12-byte buffer comes back for the next 12 bytes')
  again.release()
  const many = Array.from({ length: maxCachedBlocks + 1000 }, () => cpuBackend.allocate(4))
  for (const s of many) s.release()
  const kept = native.memoryStats().blocks - base
  t.ok(kept > 0 && kept <= maxCachedBlocks, `${kept} blocks kept after releasing ${many.length}`)
  iv.emptyCache()
  t.equal(native.memoryStats().blocks, base, 'emptyCache() frees them')
})

t.test('copyToHost refuses ranges outside the buffer, naming the op', async (t) => {
  const x = iv.zeros([MiB])
  const buffer = (x.storage as unknown as { handle: ArrayBuffer }).handle
  t.throws(() => native.copyToHost(buffer, 0, buffer.byteLength + 4), /copyToHost: .*must lie in the buffer/)
  t.throws(() => native.copyToHost(buffer, -4, 2 * MiB), /copyToHost: .*must lie in the buffer/)
  t.throws(() => native.copyToHost(buffer, 0, 1024), /at least 131072/)
  x.dispose()
})

function child(code: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  })
  return { status: r.status, stdout: r.stdout.trim().split('\n').pop() ?? '', stderr: r.stderr }
}

// A disposed block of `mib` MiB: cached or freed?
const cachesBlock = (mib: number) => `
  const iv = require(${JSON.stringify(SRC)})
  iv.empty([${mib * MiB}], { dtype: 'uint8' }).dispose()
  console.log(iv.memoryStats().cachedBytes)
`

t.test('the cache is sized from the machine, or from INTERN_VISION_CACHE_BYTES', async (t) => {
  // A block is cached when it is at most a quarter of the cache's size: by default a quarter
  // of the machine's memory, so 200 MiB blocks (above the old fixed 512 MiB cache's 128 MiB).
  const byDefault = child(cachesBlock(200))
  t.equal(byDefault.status, 0, byDefault.stderr.slice(-400))
  t.equal(Number(byDefault.stdout), 200 * MiB <= os.totalmem() / 16 ? 200 * MiB : 0, 'default size')
  const small = child(cachesBlock(4), { INTERN_VISION_CACHE_BYTES: String(8 * MiB) })
  t.equal(Number(small.stdout), 0, 'a 4 MiB block is above a quarter of an 8 MiB cache')
  const enough = child(cachesBlock(4), { INTERN_VISION_CACHE_BYTES: String(16 * MiB) })
  t.equal(Number(enough.stdout), 4 * MiB, 'and fits a 16 MiB one')
  const bad = child(cachesBlock(1), { INTERN_VISION_CACHE_BYTES: 'lots' })
  t.not(bad.status, 0, 'a setting that is not a number is refused')
  t.match(bad.stderr, /INTERN_VISION_CACHE_BYTES must be a non-negative number of bytes, got 'lots'/)
})

t.test('a full cache makes room by evicting the sizes least recently used', async (t) => {
  // A 16 MiB cache holding two 4 MiB buffers of each of two sizes; the older size is used again,
  // then a 3 MiB buffer is disposed: it is kept, and the size left unused longest gives way.
  const r = child(
    `
    const iv = require(${JSON.stringify(SRC)})
    const handle = (x) => x.storage.handle
    const make = (n) => iv.empty([n], { dtype: 'uint8' })
    const A = ${4 * MiB}, B = ${4 * MiB - 64}, C = ${3 * MiB}
    const as = [make(A), make(A)], bs = [make(B), make(B)]
    const aHandles = as.map(handle), bHandles = bs.map(handle)
    for (const x of [...as, ...bs]) x.dispose()
    const full = iv.memoryStats().cachedBytes
    make(A).dispose()
    const c = make(C), cHandle = handle(c)
    c.dispose()
    const kept = iv.memoryStats().cachedBytes
    const reusedC = handle(make(C)) === cHandle
    const reusedA = [make(A), make(A)].filter((x) => aHandles.includes(handle(x))).length
    const reusedB = [make(B), make(B)].filter((x) => bHandles.includes(handle(x))).length
    console.log(JSON.stringify({ full, kept, reusedC, reusedA, reusedB }))
    `,
    { INTERN_VISION_CACHE_BYTES: String(16 * MiB) },
  )
  t.equal(r.status, 0, r.stderr.slice(-400))
  const out = JSON.parse(r.stdout)
  t.equal(out.full, 16 * MiB - 128, 'four buffers fill the cache')
  // The evicted buffer's block moves on to the addon's cache of freed blocks (4 MiB exactly).
  t.equal(out.kept, 15 * MiB - 64 + 4 * MiB, 'the 3 MiB buffer is kept in place of one of the older size')
  t.ok(out.reusedC, 'and goes to the next tensor of its size')
  t.equal(out.reusedA, 2, 'the size used again keeps both its buffers')
  t.equal(out.reusedB, 1, 'the size least recently used gave one up')
})

t.test("the addon's cache of blocks V8 freed makes room by evicting the blocks freed longest ago", async (t) => {
  // The addon's cache is bounded by the TypeScript cache's size (16 MiB here). Six blocks of
  // about 3 MiB, each of its own size and filled with its own byte, freed in turn: the sixth
  // does not fit, and the first gives way. A reused block keeps its old bytes (empty()
  // promises nothing), a fresh one reads zeros, so the first byte says which.
  const r = child(
    `
    const iv = require(${JSON.stringify(SRC)})
    const { native } = require(${JSON.stringify(path.join(SRC, 'backend', 'native'))})
    const size = (i) => ${3 * MiB} + i * 8192
    for (let i = 0; i < 6; i++) native.free(iv.full([size(i)], i + 1, { dtype: 'uint8' }).storage.handle)
    const cached = native.memoryStats().mappedCachedBytes
    const first = (i) => iv.empty([size(i)], { dtype: 'uint8' }).data()[0]
    console.log(JSON.stringify({ cached, firsts: [0, 1, 5].map(first) }))
    `,
    { INTERN_VISION_CACHE_BYTES: String(16 * MiB), INTERN_VISION_POISON: '0' },
  )
  t.equal(r.status, 0, r.stderr.slice(-400))
  const out = JSON.parse(r.stdout)
  // Each block spans whole 4 KiB pages: size(i) + 64 bytes of alignment, rounded up.
  const span = (i: number) => 3 * MiB + i * 8192 + 4096
  t.equal(
    out.cached,
    [1, 2, 3, 4, 5].reduce((s, i) => s + span(i), 0),
    'blocks 2 to 6 are cached',
  )
  t.same(out.firsts, [0, 2, 6], 'the first block was unmapped, the second and the sixth are reused')
})
