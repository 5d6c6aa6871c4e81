// Issue #17, items 13 and 10 (writing): a save killed midway leaves a temporary file that the
// next save or load of the same target removes; write failures name the file.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import rawFs = require('node:fs')
import * as path from 'node:path'
import * as iv from '../../src'
import { atomicWrite } from '../../src/io/atomic'
import { readFile, saveFile } from '../../src/io/safetensors'

const ATOMIC = path.join(__dirname, '..', '..', 'src', 'io', 'atomic')

/** Runs a child that starts an atomic save of `target`, writes 1 MiB, and is killed by SIGKILL. */
function killedSave(target: string): { pid: number; signal: string | null } {
  const child = `
    const { atomicWrite } = require(${JSON.stringify(ATOMIC)})
    atomicWrite(${JSON.stringify(target)}, (write) => {
      write(Buffer.alloc(1 << 20, 7))
      process.kill(process.pid, 'SIGKILL')
    })
  `
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', child], { encoding: 'utf8', timeout: 60_000 })
  return { pid: r.pid ?? -1, signal: r.signal }
}

const temps = (dir: string) => fs.readdirSync(dir).filter((n) => n.includes('.tmp-'))

t.test('a save killed midway leaves a temporary that the next save removes (item 13)', async (t) => {
  const dir = t.testdir({})
  const target = path.join(dir, 'checkpoint.safetensors')
  saveFile(target, { w: iv.tensor([1, 2, 3]) })
  const killed = killedSave(target)
  t.equal(killed.signal, 'SIGKILL', 'the writer died by kill -9')
  t.equal(temps(dir).length, 1, 'it left its temporary file')
  t.equal(fs.statSync(path.join(dir, temps(dir)[0])).size, 1 << 20)
  t.same(Array.from(readFile(target).tensors.w.data()), [1, 2, 3], 'the target still holds the old checkpoint')
  t.same(temps(dir), [], 'and loading it removed the stale temporary')
  killedSave(target)
  t.equal(temps(dir).length, 1)
  saveFile(target, { w: iv.tensor([4, 5]) })
  t.same(temps(dir), [], 'the next save removed it too')
  t.same(Array.from(readFile(target).tensors.w.data()), [4, 5])
})

t.test("a live writer's temporary is left alone", async (t) => {
  const dir = t.testdir({})
  const target = path.join(dir, 'model.safetensors')
  const sleeper = spawn('sleep', ['30'])
  t.teardown(() => sleeper.kill('SIGKILL'))
  const live = path.join(dir, `.model.safetensors.tmp-${sleeper.pid}-1-0`)
  fs.writeFileSync(live, 'in progress')
  const other = path.join(dir, `.other.safetensors.tmp-999999999-1-0`)
  fs.writeFileSync(other, 'not this target')
  saveFile(target, { w: iv.tensor([1]) })
  t.ok(fs.existsSync(live), 'a temporary of a running process stays')
  t.ok(fs.existsSync(other), "another target's temporary stays")
})

t.test('write failures name the file and the reason (item 10)', async (t) => {
  const dir = t.testdir({ sub: {} })
  const target = path.join(dir, 'model.safetensors')
  const realWrite = rawFs.writeSync
  t.teardown(() => {
    rawFs.writeSync = realWrite
  })
  rawFs.writeSync = (() => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' })
  }) as typeof fs.writeSync
  t.throws(() => saveFile(target, { w: iv.tensor([1]) }), {
    message: `atomicWrite: cannot write '${target}': no space left on the device (ENOSPC)`,
    code: 'ENOSPC',
  })
  rawFs.writeSync = realWrite
  t.same(temps(dir), [], 'no temporary left')
  const folder = path.join(dir, 'sub')
  t.throws(() => saveFile(folder, { w: iv.tensor([1]) }), new RegExp(`cannot write '${folder}': .*(EISDIR|directory)`))
  t.throws(() => readFile(folder), new RegExp(`${folder}: it is a directory`))
  t.throws(
    () => readFile(path.join(dir, 'missing.safetensors')),
    /cannot open '.*missing.safetensors': no such file or directory \(ENOENT\)/,
  )
  t.throws(
    () => atomicWrite(path.join(dir, 'no', 'such', 'dir', 'f'), () => undefined),
    /atomicWrite: cannot write '.*no\/such\/dir\/f': no such file or directory/,
  )
})
