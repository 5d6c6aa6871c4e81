#!/usr/bin/env node
// The intern-vision command line: `train` runs the main job (the embedded default is the
// procedural GV-D world), `info` reports the engine's build and devices.
import { parseArgs } from 'node:util'
import * as cuda from '../cuda'
import { cpuInfo } from '../runtime'
import { train, type TrainArgs } from './train'

const usage = `usage: intern-vision <command> [options]

commands:
  train   train a model on a GV-D dataset, checkpoint, evaluate
          --data world|fashion-mnist|digits (world)   --model mn-t|mn-s|resnet18 (mn-t)
          --steps N (600)  --batch-size N (64)  --lr X (0.003)  --image-size N (32, world only)
          --train-size N (8000)  --test-size N (1000)  --workers N (1)  --seed N (0)
          --out DIR (runs/latest)  --resume
  info    the CPU kernel set, threads and CUDA availability`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === 'info') {
    console.log(JSON.stringify({ cpu: cpuInfo(), cuda: cuda.isAvailable() ? { devices: cuda.deviceCount(), name: cuda.deviceName() } : { available: false, reason: cuda.unavailableReason() } }, null, 2))
    return 0
  }
  if (command === 'train') {
    const { values } = parseArgs({
      args: rest,
      options: {
        data: { type: 'string', default: 'world' },
        model: { type: 'string', default: 'mn-t' },
        steps: { type: 'string', default: '600' },
        'batch-size': { type: 'string', default: '64' },
        lr: { type: 'string', default: '0.003' },
        'image-size': { type: 'string', default: '32' },
        'train-size': { type: 'string', default: '8000' },
        'test-size': { type: 'string', default: '1000' },
        workers: { type: 'string', default: '1' },
        seed: { type: 'string', default: '0' },
        out: { type: 'string', default: 'runs/latest' },
        resume: { type: 'boolean', default: false },
      },
    })
    const int = (k: string, v: string | undefined, min: number): number => {
      const n = Number(v)
      if (!Number.isInteger(n) || n < min) throw new Error(`train: --${k} must be an integer >= ${min}, got '${v}'`)
      return n
    }
    if (!['world', 'fashion-mnist', 'digits'].includes(values.data!)) throw new Error(`train: --data must be world, fashion-mnist or digits, got '${values.data}'`)
    const lr = Number(values.lr)
    if (!(lr > 0)) throw new Error(`train: --lr must be a positive number, got '${values.lr}'`)
    const args: TrainArgs = {
      data: values.data as TrainArgs['data'],
      model: values.model!,
      steps: int('steps', values.steps, 1),
      batchSize: int('batch-size', values['batch-size'], 1),
      lr,
      imageSize: int('image-size', values['image-size'], 8),
      trainSize: int('train-size', values['train-size'], 1),
      testSize: int('test-size', values['test-size'], 1),
      workers: int('workers', values.workers, 0),
      seed: int('seed', values.seed, 0),
      out: values.out!,
      resume: values.resume!,
    }
    await train(args)
    return 0
  }
  console.error(usage)
  return command === undefined || command === 'help' || command === '--help' ? 0 : 2
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`intern-vision: ${err.message}`)
    process.exit(1)
  },
)
