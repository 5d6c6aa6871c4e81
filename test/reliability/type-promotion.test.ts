// Issue #17, item 5: a 0-dim tensor promotes like PyTorch's (dimension-category rules).
import t from 'tap'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as iv from '../../src'
import { resultType } from '../../src/ops/util'
import type { DType } from '../../src/tensor/dtype'

const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'type_promotion.json'), 'utf8')) as {
  cases: { a: DType; aKind: 'dim' | 'zero'; b: DType; bKind: 'dim' | 'zero'; add: DType }[]
}

const operand = (dtype: DType, kind: 'dim' | 'zero') => iv.ones(kind === 'dim' ? [1] : [], { dtype })

t.test("the result dtype of every pair matches PyTorch's (scripts/fixtures/type_promotion.py)", async (t) => {
  t.equal(FIXTURE.cases.length, 144)
  const wrong = FIXTURE.cases.filter((c) => resultType(operand(c.a, c.aKind), operand(c.b, c.bKind)) !== c.add)
  t.same(
    wrong.map((c) => `${c.a} ${c.aKind} + ${c.b} ${c.bKind}: want ${c.add}`),
    [],
  )
})

t.test('float32 + a 0-dim float64 tensor stays float32, gradients included', async (t) => {
  const x = iv.tensor([1.5, 2.5], { requiresGrad: true })
  const s = iv.tensor(0.25, { dtype: 'float64', requiresGrad: true })
  const y = x.add(s)
  t.equal(y.dtype, 'float32')
  t.same(y.toArray(), [1.75, 2.75])
  y.sum().backward()
  t.equal(s.grad!.dtype, 'float64', "the 0-dim operand's gradient keeps its dtype")
  t.equal(s.grad!.item(), 2)
  t.equal(
    iv.mul(iv.ones([3], { dtype: 'int32' }), iv.tensor(0.5, { dtype: 'float64' })).dtype,
    'float64',
    'across categories the 0-dim operand still widens',
  )
})
