// Picks the backend for a device. The CPU backend is always there; CUDA registers itself
// when its binary loads (see backend/cuda.ts).
import type { Backend } from './backend'
import { cpuBackend } from './cpu'
import type { Device } from '../tensor/dtype'

const backends = new Map<Device, Backend>()

export function registerBackend(b: Backend): void {
  backends.set(b.device, b)
}

export function backendFor(device: Device): Backend {
  const b = device === 'cpu' ? cpuBackend : backends.get(device)
  if (!b)
    throw new Error(
      `no backend for device '${device}'${device === 'cuda' ? ': CUDA is not available (see cuda.isAvailable())' : ''}`,
    )
  return b
}

export type { Backend, Storage, UnaryOp, BinaryOp, ReduceOp } from './backend'
