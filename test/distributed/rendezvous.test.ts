// The TCP bootstrap of torchrun-style NCCL launches: rank 0's bytes reach every rank, late
// starters included; a missing peer or a taken port is a clear error, not a hang.
import t from 'tap'
import * as net from 'node:net'
import { rendezvous } from '../../src/distributed/rendezvous'

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('every rank gets rank 0’s bytes, even when rank 0 starts last', async (t) => {
  const port = await freePort()
  const payload = Uint8Array.from({ length: 128 }, (_, i) => (i * 37) % 256)
  const opts = { addr: '127.0.0.1', port, worldSize: 3, timeoutMs: 20_000 }
  const got = await Promise.all([
    delay(400).then(() => rendezvous({ ...opts, rank: 0, payload })),
    rendezvous({ ...opts, rank: 1 }),
    rendezvous({ ...opts, rank: 2 }),
  ])
  for (const [rank, bytes] of got.entries()) t.same(Array.from(bytes), Array.from(payload), `rank ${rank}`)
})

t.test('missing peers and taken ports are named', async (t) => {
  const port = await freePort()
  await t.rejects(
    rendezvous({ addr: '127.0.0.1', port, rank: 1, worldSize: 2, timeoutMs: 500 }),
    /rank 1 could not get the id from rank 0 at 127\.0\.0\.1:\d+ \(MASTER_ADDR:MASTER_PORT\) within 0\.5 s/,
  )
  await t.rejects(
    rendezvous({ addr: '127.0.0.1', port, rank: 0, worldSize: 3, timeoutMs: 500, payload: new Uint8Array(4) }),
    /only 0 of the 2 other ranks reached rank 0 on port \d+ within 0\.5 s/,
  )
  const taken = net.createServer().listen(port)
  await new Promise((r) => taken.once('listening', r))
  await t.rejects(
    rendezvous({ addr: '127.0.0.1', port, rank: 0, worldSize: 2, timeoutMs: 2000, payload: new Uint8Array(4) }),
    /rank 0 cannot listen on port \d+ \(MASTER_PORT\)/,
  )
  taken.close()
  await t.rejects(rendezvous({ addr: '127.0.0.1', port, rank: 0, worldSize: 2 }), /rank 0 needs a payload/)
})
