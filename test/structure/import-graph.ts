// The run-time import graph of src/ and the two rules it must keep: no import from a lower
// layer to a higher one, and no cycle between files. Imports written as type-only (`import
// type`, `export type`, or every name marked `type`) vanish at compile time and do not count;
// every other one does, even one TypeScript would drop for naming only types (mark those
// `type`). A file loaded by a computed path (require(name), a worker's script) is not seen.
import * as fs from 'node:fs'
import * as path from 'node:path'
import ts from 'typescript'

export interface Import {
  /** The importing file, relative to the source root ('tensor/tensor.ts'). */
  from: string
  /** The imported file, relative to the source root. */
  to: string
  /** The specifier as written ('../ops'). */
  specifier: string
  line: number
}

/** [folder or file relative to the source root, layer]; a longer match wins. */
export type LayerTable = readonly (readonly [string, string])[]

/** src/'s layers, lowest first (docs/ARCHITECTURE.md shows the same table). */
export const layerOrder = [
  'backend',
  'tensor',
  'autograd',
  'ops',
  'nn/optim/io',
  'profiler',
  'models/data',
  'distributed',
  'train',
  'benchmark',
  'search',
  'intern',
  'cli',
  'api',
] as const

export const srcLayers: LayerTable = [
  ['backend', 'backend'],
  ['runtime.ts', 'backend'],
  ['cuda.ts', 'backend'],
  ['tensor', 'tensor'],
  ['autograd', 'autograd'],
  ['ops', 'ops'],
  ['nn', 'nn/optim/io'],
  ['optim', 'nn/optim/io'],
  ['io', 'nn/optim/io'],
  ['profiler', 'profiler'],
  ['models', 'models/data'],
  ['data', 'models/data'],
  ['distributed', 'distributed'],
  ['train', 'train'],
  ['benchmark', 'benchmark'],
  ['search', 'search'],
  ['intern', 'intern'],
  ['cli', 'cli'],
  ['index.ts', 'api'],
]

/** The run-time imports of one file's text that point at other files (relative specifiers). */
export function runtimeSpecifiers(fileName: string, text: string): { specifier: string; line: number }[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true)
  const found: { specifier: string; line: number }[] = []
  const add = (node: ts.Node, spec: ts.Node | undefined): void => {
    if (spec && ts.isStringLiteralLike(spec))
      found.push({ specifier: spec.text, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 })
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      if (!importVanishes(node.importClause)) add(node, node.moduleSpecifier)
    } else if (ts.isExportDeclaration(node)) {
      if (!exportVanishes(node)) add(node, node.moduleSpecifier)
    } else if (ts.isImportEqualsDeclaration(node)) {
      if (!node.isTypeOnly && ts.isExternalModuleReference(node.moduleReference))
        add(node, node.moduleReference.expression)
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression
      const isDynamicImport = callee.kind === ts.SyntaxKind.ImportKeyword
      const isRequire = ts.isIdentifier(callee) && callee.text === 'require'
      if ((isDynamicImport || isRequire) && node.arguments.length >= 1) add(node, node.arguments[0])
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return found.filter((f) => f.specifier.startsWith('./') || f.specifier.startsWith('../'))
}

function importVanishes(clause: ts.ImportClause | undefined): boolean {
  if (!clause) return false // `import './x'` runs x
  if (clause.isTypeOnly) return true
  if (clause.name) return false
  const bindings = clause.namedBindings
  if (!bindings || ts.isNamespaceImport(bindings)) return false
  return bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)
}

function exportVanishes(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true
  const clause = node.exportClause
  if (!clause || ts.isNamespaceExport(clause)) return false
  return clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly)
}

/** Resolves a relative specifier the way Node16 CommonJS resolution finds a .ts source. */
export function resolveSpecifier(from: string, specifier: string, files: ReadonlySet<string>): string | null {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier))
  const stem = base.replace(/\.js$/, '')
  for (const candidate of [base, `${stem}.ts`, `${stem}/index.ts`]) if (files.has(candidate)) return candidate
  return null
}

/** Every run-time import between the given files ({relative path: text}). */
export function importGraph(sources: ReadonlyMap<string, string>): { imports: Import[]; unresolved: Import[] } {
  const files = new Set(sources.keys())
  const imports: Import[] = []
  const unresolved: Import[] = []
  for (const [from, text] of sources)
    for (const { specifier, line } of runtimeSpecifiers(from, text)) {
      const to = resolveSpecifier(from, specifier, files)
      if (to) imports.push({ from, to, specifier, line })
      else unresolved.push({ from, to: '', specifier, line })
    }
  return { imports, unresolved }
}

export function layerOf(file: string, table: LayerTable): string | undefined {
  let best: readonly [string, string] | undefined
  for (const entry of table) {
    const [prefix] = entry
    const matches = file === prefix || file.startsWith(`${prefix}/`)
    if (matches && (!best || prefix.length > best[0].length)) best = entry
  }
  return best?.[1]
}

/** One line per import that reaches up, or from or into a file of no layer. */
export function layerViolations(imports: readonly Import[], table: LayerTable, order: readonly string[]): string[] {
  const rank = (file: string): { layer: string; rank: number } | undefined => {
    const layer = layerOf(file, table)
    return layer === undefined ? undefined : { layer, rank: order.indexOf(layer) }
  }
  const out: string[] = []
  for (const i of imports) {
    const a = rank(i.from)
    const b = rank(i.to)
    const where = `${i.from}:${i.line} imports '${i.specifier}' (${i.to})`
    if (!a || a.rank < 0) out.push(`${where}: ${i.from} is in no layer`)
    else if (!b || b.rank < 0) out.push(`${where}: ${i.to} is in no layer`)
    else if (b.rank > a.rank) out.push(`${where}: layer ${a.layer} reaches up to layer ${b.layer}`)
  }
  return out
}

/** One path per strongly connected set of files (Tarjan), as 'a -> b -> ... -> a'. */
export function importCycles(imports: readonly Import[]): string[] {
  const next = new Map<string, string[]>()
  for (const i of imports) {
    if (!next.has(i.from)) next.set(i.from, [])
    next.get(i.from)!.push(i.to)
  }
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const connect = (v: string): void => {
    index.set(v, index.size)
    low.set(v, index.get(v)!)
    stack.push(v)
    onStack.add(v)
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || (next.get(v) ?? []).includes(v)) components.push(component)
    }
  }
  for (const v of [...next.keys()].sort()) if (!index.has(v)) connect(v)
  return components.map((c) => cyclePath(c, next))
}

// The shortest way back to the first file (breadth-first within the component).
function cyclePath(component: string[], next: ReadonlyMap<string, string[]>): string {
  const members = new Set(component)
  const start = [...component].sort()[0]
  const cameFrom = new Map<string, string>()
  const queue = [start]
  while (queue.length) {
    const v = queue.shift()!
    for (const w of next.get(v) ?? []) {
      if (!members.has(w)) continue
      if (w === start) {
        const path = [start]
        for (let u = v; u !== start; u = cameFrom.get(u)!) path.unshift(u)
        return [start, ...path].join(' -> ')
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v)
        queue.push(w)
      }
    }
  }
  throw new Error(`importCycles: no cycle through ${start}`)
}

/** Every .ts file under dir, keyed by its path relative to dir (posix separators). */
export function readSources(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (sub: string): void => {
    for (const e of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${e.name}` : e.name
      if (e.isDirectory()) walk(rel)
      else if (e.name.endsWith('.ts')) out.set(rel, fs.readFileSync(path.join(dir, rel), 'utf8'))
    }
  }
  walk('')
  return out
}
