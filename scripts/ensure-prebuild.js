// Runs `npm run prebuild` when prebuilds/ has no binary for this platform or one older than
// the native sources, so the packaging test always packs what the sources build. It runs
// before the test runner starts: prebuildify rebuilds build/, which tests load from.
const fs = require('fs')
const path = require('path')
const { execSync } = require('child_process')

const root = path.resolve(__dirname, '..')
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`)
const binary = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.node')) : undefined

function newestSource(p) {
  let newest = 0
  for (const e of fs.readdirSync(p, { withFileTypes: true })) {
    const full = path.join(p, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestSource(full) : fs.statSync(full).mtimeMs)
  }
  return newest
}

const stale =
  !binary ||
  fs.statSync(path.join(dir, binary)).mtimeMs <
    Math.max(newestSource(path.join(root, 'native')), fs.statSync(path.join(root, 'binding.gyp')).mtimeMs)
if (stale) {
  console.log('prebuilds/ is missing or older than native/: running npm run prebuild')
  execSync('npm run prebuild', { cwd: root, stdio: 'inherit' })
}
