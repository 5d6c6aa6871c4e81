import t from 'tap'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {
  importCycles,
  importGraph,
  layerOf,
  layerOrder,
  layerViolations,
  readSources,
  runtimeSpecifiers,
  srcLayers,
  type LayerTable,
} from './import-graph'

const root = path.resolve(__dirname, '..', '..')
const specs = (text: string): string[] => runtimeSpecifiers('a.ts', text).map((s) => s.specifier)

t.test('only imports that survive compilation count', async (t) => {
  t.same(specs("import { a } from './a'\nimport b from './b'\nimport * as c from './c'\nimport './d'"), [
    './a',
    './b',
    './c',
    './d',
  ])
  t.same(
    specs(
      "import type { A } from './a'\nimport { type B, type C } from './b'\nexport type { D } from './d'\nexport { type E } from './e'",
    ),
    [],
  )
  t.same(
    specs("import { type A, b } from './a'\nexport { c } from './c'\nexport * from './d'\nexport * as e from './e'"),
    ['./a', './c', './d', './e'],
  )
  t.same(specs("const m = () => import('./lazy')\nconst r = require('./req')\nimport eq = require('./eq')"), [
    './lazy',
    './req',
    './eq',
  ])
  t.same(
    specs(
      "let x: typeof import('./types-only')\nimport type eq = require('./eq')\nimport fs from 'node:fs'\nimport ts from 'typescript'",
    ),
    [],
  )
  t.same(runtimeSpecifiers('a.ts', "// one\nimport { a } from './a'"), [{ specifier: './a', line: 2 }])
})

const table: LayerTable = [
  ['low', 'low'],
  ['high', 'high'],
  ['high/special.ts', 'low'],
]
const order = ['low', 'high']
const graphOf = (files: Record<string, string>) => importGraph(new Map(Object.entries(files)))

t.test('an upward run-time import fails, naming the file, the import and both layers', async (t) => {
  const { imports, unresolved } = graphOf({
    'low/a.ts':
      "import { b } from '../high/b'\nimport type { C } from '../high/c'\nimport { s } from '../high/special'",
    'high/b.ts': "import { a } from '../low/a'",
    'high/c.ts': "export * from './b'",
    'high/special.ts': '',
  })
  t.same(unresolved, [])
  t.same(layerViolations(imports, table, order), [
    "low/a.ts:1 imports '../high/b' (high/b.ts): layer low reaches up to layer high",
  ])
})

t.test('a file outside every layer fails', async (t) => {
  const { imports } = graphOf({ 'low/a.ts': "import { x } from '../stray'", 'stray.ts': '' })
  t.same(layerViolations(imports, table, order), ["low/a.ts:1 imports '../stray' (stray.ts): stray.ts is in no layer"])
  t.equal(layerOf('high/special.ts', table), 'low', 'the longest matching entry wins')
  t.equal(layerOf('higher/x.ts', table), undefined, 'a folder prefix matches whole names only')
})

t.test('a run-time cycle fails with its path; type-only imports make none', async (t) => {
  const cyclic = graphOf({
    'low/a.ts': "import { b } from './b'",
    'low/b.ts': "export { c } from './c'",
    'low/c.ts': "const a = require('./a')",
    'low/d.ts': "import type { A } from './a'\nimport { b } from './b'",
  })
  t.same(importCycles(cyclic.imports), ['low/a.ts -> low/b.ts -> low/c.ts -> low/a.ts'])
  t.same(importCycles(graphOf({ 'low/a.ts': "import './a'" }).imports), ['low/a.ts -> low/a.ts'])
  const acyclic = graphOf({ 'low/a.ts': "import { b } from './b'", 'low/b.ts': "import type { A } from './a'" })
  t.same(importCycles(acyclic.imports), [])
})

t.test('src/: every file in a layer, every import resolved, nothing reaches up, no cycle', async (t) => {
  const sources = readSources(path.join(root, 'src'))
  const { imports, unresolved } = importGraph(sources)
  t.ok(imports.length > 200, `the graph has ${imports.length} run-time imports`)
  t.same(
    unresolved.map((i) => `${i.from}:${i.line} '${i.specifier}'`),
    [],
    'every relative import resolves to a file of src/',
  )
  t.same(
    [...sources.keys()].filter((f) => layerOf(f, srcLayers) === undefined),
    [],
    'every file has a layer',
  )
  t.same(layerViolations(imports, srcLayers, layerOrder), [], 'no run-time import reaches up')
  t.same(importCycles(imports), [], 'no run-time import cycle')
})

t.test("docs/ARCHITECTURE.md's layer table is the one checked here", async (t) => {
  const doc = fs.readFileSync(path.join(root, 'docs', 'ARCHITECTURE.md'), 'utf8')
  const rows = [...doc.matchAll(/^\| (\d+) \| ([^|]+?) \| ([^|]+?) \|$/gm)].map((m) => ({
    rank: Number(m[1]),
    layer: m[2],
    paths: m[3],
  }))
  t.same(
    rows.map((r) => r.layer),
    [...layerOrder],
    'the layers, lowest first',
  )
  t.same(
    rows.map((r) => r.rank),
    layerOrder.map((_, i) => i + 1),
  )
  for (const r of rows) {
    const paths = r.paths.split(', ').map((p) => p.replace(/^`src\/(.*?)\/?`$/, '$1'))
    const expected = srcLayers.filter(([, layer]) => layer === r.layer).map(([p]) => p)
    t.same(paths, expected, `layer ${r.layer}`)
  }
})
