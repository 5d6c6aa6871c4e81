import t from 'tap'
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

const root = path.resolve(__dirname, '..', '..')
const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`)

t.test('the packed package installs without a compiler and trains', async (t) => {
  const binaries = fs.existsSync(prebuildDir) ? fs.readdirSync(prebuildDir).filter((f) => f.endsWith('.node')) : []
  t.ok(binaries.length > 0, `a prebuilt binary is in ${prebuildDir} (npm test's pretest makes it)`)
  t.ok(fs.existsSync(path.join(root, 'lib', 'index.js')), 'lib/ is compiled (npm install runs tsc)')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-pack-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const npm = (args: string[], cwd: string) =>
    execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const tarball = npm(['pack', '--ignore-scripts', '--pack-destination', dir, '--silent'], root)
    .trim()
    .split('\n')
    .pop()!
  const app = path.join(dir, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  // --ignore-scripts: nothing may be compiled; the prebuilt binary must be what loads.
  npm(['install', path.join(dir, tarball), '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], app)
  const installed = path.join(app, 'node_modules', 'intern-vision')
  t.notOk(fs.existsSync(path.join(installed, 'build')), 'no build/ folder shipped or made')
  const script = `
    const iv = require('intern-vision')
    const a = iv.tensor([[1, 2], [3, 4]], { requiresGrad: true })
    const b = iv.tensor([[5, 6], [7, 8]])
    const y = a.matmul(b)
    y.sum().backward()
    console.log(JSON.stringify({ y: y.toArray(), grad: a.grad.toArray(), isa: iv.cpuInfo().isa }))
  `
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' }).trim())
  t.same(out.y, [
    [19, 22],
    [43, 50],
  ])
  t.same(
    out.grad,
    [
      [11, 15],
      [11, 15],
    ],
    'backward through the installed package',
  )
  t.ok(['avx512', 'avx2', 'generic'].includes(out.isa))
})
