// The repository's own checks, so CI fails on them like on any test: ESLint's rules, Prettier's
// layout and a type check of everything TypeScript (tests, benches and examples included; the
// build's tsconfig.json compiles src/ only).
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import t from 'tap'

const root = path.join(__dirname, '..', '..')
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name)

const checks: [string, string, string[]][] = [
  ['eslint', bin('eslint'), ['.', '--max-warnings', '0']],
  ['prettier', bin('prettier'), ['--check', '.', '--log-level', 'warn']],
  ['tsc', bin('tsc'), ['-p', 'tsconfig.check.json']],
]

for (const [name, command, args] of checks) {
  t.test(`${name} ${args.join(' ')}`, async (t) => {
    const run = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
    t.equal(run.error, undefined, `${name} starts`)
    t.equal(run.status, 0, `${name} finds nothing to mend:\n${(run.stdout + run.stderr).slice(0, 8000)}`)
  })
}
