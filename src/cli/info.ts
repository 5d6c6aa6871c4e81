// `intern-vision info`: the engine's build and devices, as JSON.
import { parseArgs } from 'node:util'
import * as cuda from '../cuda'
import { cpuInfo } from '../runtime'

export const INFO_USAGE = `usage: intern-vision info

Prints the CPU kernel set (avx512, avx2 or generic), the thread count and whether CUDA is
available (with the device when it is), as JSON.`

export async function infoCommand(argv: string[]): Promise<number> {
  let help: boolean | undefined
  try {
    ;({ help } = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values)
  } catch (e) {
    console.error(`intern-vision info: ${(e as Error).message}`)
    return 2
  }
  if (help) {
    console.log(INFO_USAGE)
    return 0
  }
  const gpu = cuda.isAvailable()
    ? { devices: cuda.deviceCount(), name: cuda.deviceName() }
    : { available: false, reason: cuda.unavailableReason() }
  console.log(JSON.stringify({ cpu: cpuInfo(), cuda: gpu }, null, 2))
  return 0
}
