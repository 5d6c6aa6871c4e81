// Issue #17, items 1, 3 and 4: gradients never vanish silently, PyTorch's keyword form of
// backward, and scope() refusing async bodies without leaving them running.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import * as iv from '../../src'
import { collectGarbage } from '../helpers'

const SRC = path.join(__dirname, '..', '..', 'src')

t.test('a loss returned from scope() still backpropagates to every input (item 1)', async (t) => {
  const x = iv.randn([2, 3])
  const w = iv.randn([4, 3]).requiresGrad_()
  const inside = iv.scope(() => {
    iv.linear(x, w).exp().mean().backward()
    return w.grad!.clone()
  })
  w.grad = null
  collectGarbage()
  const before = iv.memoryStats().blocks
  const loss = iv.scope(() => iv.linear(x, w).exp().mean())
  t.ok(iv.memoryStats().blocks > before + 1, 'the graph kept its intermediates alive')
  loss.backward()
  t.ok(w.grad, 'w has a gradient')
  t.same(Array.from(w.grad!.data()), Array.from(inside.data()), 'the same gradient as a backward inside the scope')
  w.grad!.dispose()
  w.grad = null
  loss.dispose()
  t.equal(iv.memoryStats().blocks, before, 'backward freed what the scope held for the graph')
})

t.test('every MetaNet parameter gets its gradient when backward runs outside the scope (item 1)', async (t) => {
  iv.manualSeed(3)
  const model = iv.createModel('mn-t', { numClasses: 3, imageSize: 32 })
  const x = iv.randn([2, 3, 32, 32])
  const forward = () => (model.forward(x) as iv.Tensor).logSoftmax(1).select(1, 0).mean()
  iv.scope(() => forward().backward())
  const reference = model.parameters().map((p) => (p.grad ? Array.from(p.grad.data()) : null))
  t.ok(
    reference.filter(Boolean).length >= 100,
    `${reference.filter(Boolean).length} parameters get a gradient inside a scope`,
  )
  model.zeroGrad()
  for (const p of model.parameters()) p.grad = null
  const loss = iv.scope(forward)
  loss.backward()
  const outside = model.parameters().map((p) => (p.grad ? Array.from(p.grad.data()) : null))
  t.equal(
    outside.filter(Boolean).length,
    reference.filter(Boolean).length,
    'as many parameters get a gradient outside the scope',
  )
  const differing = reference.filter(
    (r, i) => (r === null) !== (outside[i] === null) || (r !== null && r.some((v, j) => v !== outside[i]![j])),
  ).length
  t.equal(differing, 0, 'and the gradients are the same, bit for bit')
})

t.test('dispose() of an intermediate does not cut the graph (item 1)', async (t) => {
  const x = iv.randn([2, 3])
  const w = iv.randn([4, 3]).requiresGrad_()
  const h = iv.linear(x, w)
  const loss = h.exp().mean()
  h.dispose()
  loss.backward()
  t.ok(w.grad, 'w still gets a gradient: exp saved its output, not h')
  // d mean(exp(x w^T)) / dw = exp(h)^T x / numel, from the values directly.
  const hv = iv.noGrad(() => iv.linear(x, w.detach()))
  const expected = iv.noGrad(() => hv.exp().t().matmul(x).div(hv.numel))
  const got = w.grad!.data()
  const want = expected.data()
  for (let i = 0; i < want.length; i++)
    t.ok(Math.abs(got[i] - want[i]) < 1e-5 * (1 + Math.abs(want[i])), `element ${i}`)
  // When backward does need a disposed tensor, it says so instead of skipping the branch.
  const v = iv.randn([3]).requiresGrad_()
  const e = v.exp()
  const l2 = e.sum()
  e.dispose()
  t.throws(() => l2.backward(), /backward: .*'exp'.* disposed/)
})

t.test("backward takes PyTorch's keyword form (item 3)", async (t) => {
  const x = iv.tensor([1, 2], { requiresGrad: true })
  const y = x.mul(x).sum()
  y.backward({ retainGraph: true })
  t.same(x.grad!.toArray(), [2, 4])
  y.backward()
  t.same(x.grad!.toArray(), [4, 8], 'the graph was retained for a second backward')
  const z = x.mul(3)
  z.backward({ gradient: iv.tensor([1, 10]) })
  t.same(x.grad!.toArray(), [7, 38], 'gradient passed by keyword')
  t.throws(
    () =>
      x
        .mul(2)
        .sum()
        .backward({ createGraph: true } as never),
    /backward: .*createGraph/,
  )
  t.throws(
    () =>
      x
        .mul(2)
        .sum()
        .backward({ retain_graph: true } as never),
    /backward: unknown option 'retain_graph'/,
  )
  t.throws(
    () =>
      x
        .mul(2)
        .sum()
        .backward(3 as never),
    /backward: .*gradient/,
  )
})

t.test('scope(async fn) throws at once and leaves nothing running (item 4)', async (t) => {
  const child = `
    const iv = require(${JSON.stringify(SRC)})
    let ran = 0
    let message = ''
    try {
      iv.scope(async () => { ran++; await null; ran++; iv.zeros([2]).add(1) })
    } catch (e) { message = e.message }
    // A plain function that returns a Promise cannot be told apart beforehand: scope throws and
    // the body's later failure must not become an unhandled rejection.
    let message2 = ''
    try {
      iv.scope(() => Promise.resolve().then(() => { throw new Error('late failure') }))
    } catch (e) { message2 = e.message }
    setTimeout(() => console.log(JSON.stringify({ ran, message, message2 })), 50)
  `
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', child], { encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 0, `the process survives (stderr: ${r.stderr.slice(-400)})`)
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
    ran: number
    message: string
    message2: string
  }
  t.equal(out.ran, 0, 'the async body never started')
  t.match(out.message, /scope: fn must be synchronous/)
  t.match(out.message2, /scope: fn must be synchronous/)
})
