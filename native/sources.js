// Lists the native sources for binding.gyp by instruction set, so a new kernel file is
// picked up by its name alone: foo_avx512bf16.cc, foo_avx512.cc and foo_avx2.cc are compiled
// with those instruction sets in their own static libraries, foo_fastmath.cc with -ffast-math (so that
// loops over expf/erff vectorise through glibc's libmvec); every other .cc under
// native/binding and native/cpu is baseline x86-64 and goes into the addon.
const fs = require('fs')
const path = require('path')

const isa = process.argv[2] || 'base'
const roots = ['native/binding', 'native/cpu']
const files = []
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.posix.join(dir, entry.name)
    if (entry.isDirectory()) walk(p)
    else if (p.endsWith('.cc')) files.push(p)
  }
}
for (const r of roots) if (fs.existsSync(path.join(__dirname, '..', r))) walk(path.posix.relative(process.cwd(), path.join(__dirname, '..', r)).split(path.sep).join('/') || r)
const suffix = (f) =>
  f.endsWith('_avx512bf16.cc')
    ? 'avx512bf16'
    : f.endsWith('_avx512.cc')
      ? 'avx512'
      : f.endsWith('_avx2.cc') ? 'avx2' : f.endsWith('_fastmath.cc') ? 'fastmath' : 'base'
console.log(files.filter((f) => suffix(f) === isa).join(' '))
