import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import * as iv from '../../src'
import { attachedMethods } from '../../src/tensor/tensor'

const src = path.resolve(__dirname, '..', '..', 'src')

t.test('importing the library attaches every op method', async (t) => {
  const proto = iv.Tensor.prototype as unknown as Record<string, { name?: string } | undefined>
  const placeholders = attachedMethods.filter(
    (n) => n !== 'T' && (typeof proto[n] !== 'function' || proto[n]?.name !== n),
  )
  t.same(placeholders, [], 'each name holds its forwarder (named after it), not the placeholder')
  const x = iv.tensor([
    [-4, 0.5],
    [1, 4],
  ])
  // hardsigmoid: relu6(x + 3) / 6 = [0, 7/12, 2/3, 1]; each softmax row sums to 1.
  t.ok(Math.abs(x.hardsigmoid().add(x.softmax(1)).sum().item() - (7 / 12 + 2 / 3 + 1 + 2)) < 1e-6)
  t.same(x.T.toArray(), [
    [-4, 1],
    [0.5, 4],
  ])
  t.same(x.reshape(4).toArray(), x.reshape([4]).toArray(), 'rest arguments and one array agree')
  t.throws(() => x.add('a' as unknown as number), /^add: /, "an op's own error message comes through")
})

t.test('src/tensor alone loads no op, and a method called there says what is missing', async (t) => {
  const script = `
    const { tensor } = require(${JSON.stringify(path.join(src, 'tensor', 'creation.ts'))})
    const x = tensor([[1, 2], [3, 4]])
    const strided = x.asView([2], [2], 1)
    const out = { data: [...strided.data()], shape: x.shape }
    for (const call of [() => x.add(1), () => x.T, () => x.backward()])
      try { call() } catch (e) { (out.errors ??= []).push(e.message) }
    out.opsLoaded = Object.keys(require.cache).filter((f) => f.includes('/src/ops/'))
    console.log(JSON.stringify(out))
  `
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { data: number[]; shape: number[]; errors: string[]; opsLoaded: string[] }
  t.same(out.data, [2, 4], 'a strided view reads back without the ops')
  t.same(out.opsLoaded, [])
  t.equal(out.errors.length, 3)
  for (const [i, name] of ['add', 'T', 'backward'].entries())
    t.match(out.errors[i], new RegExp(`^Tensor\\.${name}: the op methods are not loaded`))
})
