// How the ranks of a torchrun-style launch (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, no
// MPI) agree on NCCL's 128-byte unique id: rank 0 serves it over TCP at MASTER_ADDR:MASTER_PORT
// to the others, once each, then closes. This is the bootstrap only; the collectives are NCCL's.
import * as net from 'node:net'

export interface RendezvousOptions {
  addr: string
  port: number
  rank: number
  worldSize: number
  /** What rank 0 serves; ignored on the other ranks. */
  payload?: Uint8Array
  timeoutMs?: number
}

/** Every rank gets rank 0's payload. Rank 0 returns once all the others have theirs. */
export function rendezvous(opts: RendezvousOptions): Promise<Uint8Array> {
  const { addr, port, rank, worldSize, timeoutMs = 300_000 } = opts
  if (rank === 0) {
    if (!opts.payload) return Promise.reject(new Error('rendezvous: rank 0 needs a payload to serve'))
    return serve(opts.payload, port, worldSize - 1, timeoutMs)
  }
  return receive(addr, port, rank, timeoutMs)
}

function serve(payload: Uint8Array, port: number, clients: number, timeoutMs: number): Promise<Uint8Array> {
  if (clients === 0) return Promise.resolve(payload)
  const frame = Buffer.alloc(4 + payload.length)
  frame.writeUInt32BE(payload.length, 0)
  frame.set(payload, 4)
  return new Promise((resolve, reject) => {
    let served = 0
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined)
      socket.end(frame, () => {
        if (++served === clients) {
          clearTimeout(timer)
          server.close()
          resolve(payload)
        }
      })
    })
    const timer = setTimeout(() => {
      server.close()
      reject(
        new Error(
          `rendezvous: only ${served} of the ${clients} other ranks reached rank 0 on port ${port} within ${timeoutMs / 1000} s`,
        ),
      )
    }, timeoutMs)
    server.on('error', (e) => {
      clearTimeout(timer)
      reject(new Error(`rendezvous: rank 0 cannot listen on port ${port} (MASTER_PORT): ${e.message}`))
    })
    server.listen(port)
  })
}

// Rank 0 may not be listening yet: connection refusals are retried until the deadline.
function receive(addr: string, port: number, rank: number, timeoutMs: number): Promise<Uint8Array> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const attempt = (lastError: string) => {
      if (Date.now() > deadline) {
        reject(
          new Error(
            `rendezvous: rank ${rank} could not get the id from rank 0 at ${addr}:${port} (MASTER_ADDR:MASTER_PORT) within ${timeoutMs / 1000} s: ${lastError}`,
          ),
        )
        return
      }
      const chunks: Buffer[] = []
      const socket = net.connect(port, addr)
      socket.on('data', (c) => chunks.push(c))
      socket.on('error', (e) => {
        socket.destroy()
        setTimeout(() => attempt(e.message), 100)
      })
      socket.on('end', () => {
        const all = Buffer.concat(chunks)
        const length = all.length >= 4 ? all.readUInt32BE(0) : -1
        if (length < 0 || all.length !== 4 + length)
          setTimeout(() => attempt(`a truncated reply (${all.length} bytes)`), 100)
        else resolve(new Uint8Array(all.subarray(4)))
      })
    }
    attempt('not tried')
  })
}
