// Builds the MPI backend, build-mpi/Release/intern_vision_mpi.node, with the MPI compiler
// wrapper (mpicxx, or $MPICXX). It is optional: where no MPI is installed this prints why and
// exits 0, so that `npm install` never fails for it; `--require` (CI) makes that an error.
// Usage: node native/distributed/build.js [--require]
const { spawnSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

const root = path.resolve(__dirname, '..', '..')
const required = process.argv.includes('--require')
const outDir = path.join(root, 'build-mpi', 'Release')
const output = path.join(outDir, 'intern_vision_mpi.node')

function skip(reason) {
  console.error(`intern-vision: the MPI backend was not built: ${reason}`)
  process.exit(required ? 1 : 0)
}

const mpicxx = process.env.MPICXX || 'mpicxx'
const probe = spawnSync(mpicxx, ['--showme:version'], { encoding: 'utf8' })
if (probe.error) skip(`${mpicxx} not found (on Debian: apt-get install openmpi-bin libopenmpi-dev)`)

// Node's headers: beside the node binary (distribution packages, official tarballs), else
// where node-gyp downloads them.
const nodeIncludes = [
  path.resolve(process.execPath, '..', '..', 'include', 'node'),
  path.join(os.homedir(), '.cache', 'node-gyp', process.versions.node, 'include', 'node'),
  path.join(os.homedir(), '.node-gyp', process.versions.node, 'include', 'node'),
]
const nodeInclude = nodeIncludes.find((d) => fs.existsSync(path.join(d, 'node_api.h')))
if (!nodeInclude) skip(`Node's headers (node_api.h) not found in ${nodeIncludes.join(', ')} (\`npx node-gyp install\` fetches them)`)
const addonApi = path.dirname(require.resolve('node-addon-api/package.json'))

const sources = ['native/distributed/mpi.cc', 'native/binding/addon.cc', 'native/binding/args.cc'].map((f) => path.join(root, f))
fs.mkdirSync(outDir, { recursive: true })
// build-mpi/ is a build output: keep it out of git without editing the repository's .gitignore.
fs.writeFileSync(path.join(root, 'build-mpi', '.gitignore'), '*\n')
const partial = `${output}.${process.pid}.tmp`
const args = [
  '-std=c++17', '-O2', '-fPIC', '-shared', '-pthread', '-fexceptions',
  // Hidden symbols: the CPU addon in the same process has functions of the same names.
  '-fvisibility=hidden', '-fvisibility-inlines-hidden',
  '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED',
  // The C API only: no C++ bindings (and no libmpi_cxx) needed.
  '-DOMPI_SKIP_MPICXX', '-DMPICH_SKIP_MPICXX',
  '-I', nodeInclude, '-I', addonApi,
  ...sources, '-o', partial,
]
const built = spawnSync(mpicxx, args, { stdio: 'inherit' })
if (built.status !== 0) {
  fs.rmSync(partial, { force: true })
  console.error(`intern-vision: compiling the MPI backend failed (${mpicxx} ${args.join(' ')})`)
  process.exit(1)
}
// Renamed into place whole, so an interrupted build never leaves a broken binary behind.
fs.renameSync(partial, output)
console.error(`intern-vision: built the MPI backend (${probe.stdout.trim().split('\n')[0]}): ${path.relative(root, output)}`)
