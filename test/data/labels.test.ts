import t from 'tap'
import { LabelSpace, Taxonomy } from '../../src/data/labels'
import { worldLabels } from '../../src/data/world/concepts'

t.test('hierarchy: ancestors, levels, isA', async (t) => {
  const tx = new Taxonomy('animals')
  tx.add('animal')
  tx.add('dog', { parent: 'animal', aliases: ['hound'] })
  const husky = tx.add('husky', { parent: 'dog' })
  t.same(
    tx.ancestors(husky).map((id) => tx.get(id).name),
    ['dog', 'animal'],
  )
  t.equal(tx.get('HOUND').name, 'dog', 'aliases and case-insensitive names')
  t.equal(tx.get(tx.ancestorAtLevel('husky', 0)).name, 'animal')
  t.ok(tx.isA('husky', 'animal'))
  t.notOk(tx.isA('animal', 'husky'))
  t.throws(() => tx.add('Dog'), /'Dog' already exists/)
  t.throws(() => tx.get('cat'), /no concept named 'cat'/)
  t.throws(() => tx.ancestorAtLevel('animal', 2), /cannot go down/)
})

t.test('mapping source labels to shared concepts and coarser levels', async (t) => {
  const tx = new Taxonomy('shared')
  tx.add('vehicle')
  tx.add('car', { parent: 'vehicle', aliases: ['automobile'] })
  tx.add('bus', { parent: 'vehicle' })
  const ids = tx.mapNames(['automobile', 'coach'], { rename: { coach: 'bus' } })
  t.same(Array.from(ids), [tx.get('car').id, tx.get('bus').id])
  t.throws(() => tx.mapNames(['car', 'tram', 'boat']), /2 source label\(s\) match no concept in 'shared': tram, boat/)
  t.same(Array.from(tx.mapNames(['tram'], { unknown: 'skip' })), [-1])
  const fine = tx.labelSpace('fine', ['car', 'bus'])
  const coarse = tx.labelSpace('coarse', ['vehicle'])
  t.same(Array.from(fine.coarsen(coarse)), [0, 0])
  t.throws(() => new LabelSpace('x', ['a']).coarsen(coarse), /same taxonomy/)
  t.throws(() => new LabelSpace('x', ['a', 'a']), /appears twice/)
})

t.test('world label system: 3 families -> 12 shapes -> 384 fine concepts', async (t) => {
  const L = worldLabels()
  t.equal(L.family.size, 3)
  t.equal(L.shape.size, 12)
  t.equal(L.fine.size, 12 * 8 * 4)
  const toShape = L.fine.coarsen(L.shape)
  const toFamily = L.fine.coarsen(L.family)
  const star = L.fine.indexOf('red striped star')
  t.equal(L.shape.classes[toShape[star]], 'star')
  t.equal(L.family.classes[toFamily[star]], 'symbol')
  t.equal(L.family.classes[L.shape.coarsen(L.family)[L.shape.indexOf('ring')]], 'round')
})
