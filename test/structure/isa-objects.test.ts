// docs/ARCHITECTURE.md's rule for the instruction-set files (*_avx2.cc, *_avx512.cc, ...): no
// STL templates and no shared inline functions. Such code is emitted as weak symbols, and the
// linker keeps one copy for the whole addon, possibly the one compiled with AVX-512, which
// then runs on CPUs without it. Checked on the objects the build left (npm test rebuilds them
// through scripts/ensure-prebuild.js): none may define a weak or unique symbol.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import t from 'tap'

const objects = path.join(__dirname, '..', '..', 'build', 'Release', 'obj.target')
const hasNm = spawnSync('nm', ['--version']).status === 0
const libraries = fs.existsSync(objects) ? fs.readdirSync(objects).filter((d) => /^kernels_/.test(d)) : []

function objectFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? objectFiles(path.join(dir, e.name)) : e.name.endsWith('.o') ? [path.join(dir, e.name)] : [],
    )
}

t.test(
  'the instruction-set objects define no weak or unique symbols',
  { skip: (libraries.length === 0 && 'no build/ objects') || (!hasNm && 'no nm (binutils)') },
  async (t) => {
    const files = libraries.flatMap((l) =>
      fs.statSync(path.join(objects, l)).isDirectory() ? objectFiles(path.join(objects, l)) : [],
    )
    t.ok(files.length > 0, `objects under ${libraries.join(', ')}`)
    for (const file of files) {
      const nm = spawnSync('nm', ['-C', file], { encoding: 'utf8' })
      // Weak (W, V, w, v) and GNU unique (u) definitions, which carry an address; references
      // (U, or w without one) are calls out, which the rule allows.
      const shared = nm.stdout.split('\n').filter((line) => /^[0-9a-f]+ [WVwvu] /.test(line))
      t.same(shared, [], path.relative(objects, file))
    }
  },
)
