// What each rank runs in the stage tests (started by mpirun through ./mpirun.ts's mpirunCommand),
// and the stage options, which the tests also run in one process as the reference. The worker
// does not call init(): the trainer must join the launcher's world by itself.
//   stages-worker.ts amateur|expert <stageDir> <rankDir>
// Each rank then writes its own weights and card to <rankDir>/{params,card}-rank<r>.*.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as iv from '../../src'
import { trainAmateur, type AmateurOptions } from '../../src/intern/amateur'
import { trainExpert, type ExpertOptions } from '../../src/intern/expert'
import type { StageCard } from '../../src/intern/stage-io'

/**
 * A MetaNet of convolution blocks only. mn-t's attention blocks start behind a layer scale of
 * 1e-6, so their parameters' gradients are tiny sums whose float32 round-off differs between
 * one batch and two halves, and AdamW's normalised step turns that into differences of the
 * order of lr: no tolerance would tell those from a bug.
 */
export const CONV_NET = path.join(__dirname, 'conv-metanet.json')

/**
 * SimSiam alone: its loss is a mean of per-image terms, so the averaged gradient of two ranks'
 * halves is the whole batch's (the contrastive terms compare every image with every caption of
 * the batch, and MLM masks by random draws, so with them no two-rank run can equal one process).
 */
export const amateurOptions = (out: string): AmateurOptions => ({
  backbone: CONV_NET,
  imageSize: 16,
  steps: 3,
  batchSize: 8,
  lr: 1e-3,
  seed: 5,
  out,
  trainSize: 16,
  checkpointEvery: 2,
  weights: { clip: 0, nn: 0, simsiam: 1, mlm: 0 },
  log: { quiet: true },
})

/** Two classification sources with 4 images each a step: 2 of each on each of two ranks. */
export const expertOptions = (out: string): ExpertOptions => ({
  type: 'C',
  backbone: CONV_NET,
  imageSize: 16,
  init: 'scratch',
  sources: ['up-cls-colour', 'up-cls-family'],
  steps: 3,
  batchSize: 8,
  lr: 1e-3,
  seed: 2,
  out,
  checkpointEvery: 2,
  log: { quiet: true },
})

/**
 * Runs `node --import tsx <script> args...` as nproc ranks under mpirun; resolves when it exits (killed after
 * timeoutMs).
 */
export function mpirunScript(
  nproc: number,
  script: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<{ status: number | null; output: string }> {
  const {
    file,
    args: mpiArgs,
    env,
  } = iv.distributed.mpirunCommand(nproc, [process.execPath, '--import', 'tsx', script, ...args])
  return new Promise((resolve) => {
    const child = spawn(file, mpiArgs, { env: { ...env, INTERN_VISION_CUDA: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, output })
    })
  })
}

/**
 * The one-process reference of a data-parallel run through BatchNorm: while it is on, every
 * BatchNorm in training normalises each rank's rows (rank, rank + R, ...) by their own batch
 * statistics, as the R ranks do, and keeps the running statistics that rank 0's rows give
 * (DDP copies rank 0's buffers to every rank after each backward). Returns the undo.
 */
export function perRankBatchNorm(worldSize: number): () => void {
  const base = Object.getPrototypeOf(iv.nn.BatchNorm2d.prototype) as {
    forward(this: iv.nn.Module, x: iv.Tensor): iv.Tensor
  }
  const forward = base.forward
  base.forward = function (x) {
    if (!this.training) return forward.call(this, x)
    const n = x.shape[0]
    if (n % worldSize !== 0)
      throw new Error(`perRankBatchNorm: a batch of ${n} rows does not split among ${worldSize} ranks`)
    const buffers = this.buffers()
    const start = buffers.map((b) => b.clone())
    let rank0: iv.Tensor[] = []
    const outs = Array.from({ length: worldSize }, (_, rank) => {
      buffers.forEach((b, i) => b.copy_(start[i]))
      const rows = iv.tensor(
        Array.from({ length: n / worldSize }, (_, j) => rank + j * worldSize),
        { dtype: 'int32' },
      )
      const out = forward.call(this, x.indexSelect(0, rows))
      if (rank === 0) rank0 = buffers.map((b) => b.clone())
      return out
    })
    buffers.forEach((b, i) => b.copy_(rank0[i]))
    // Row j of rank r's output is row r + jR of the batch.
    return iv.stack(outs, 1).reshape(x.shape.slice() as number[])
  }
  return () => {
    base.forward = forward
  }
}

async function main(): Promise<void> {
  const [stage, out, rankDir] = process.argv.slice(2)
  // Only rank 0 writes the stage folder; every rank's own weights are taken as DDP detaches from
  // the trained module at the end of the run.
  const remove = iv.distributed.DistributedDataParallel.prototype.remove
  iv.distributed.DistributedDataParallel.prototype.remove = function (this: iv.distributed.DistributedDataParallel) {
    iv.saveFile(path.join(rankDir, `params-rank${iv.distributed.getRank()}.safetensors`), this.module.stateDict())
    remove.call(this)
  }
  let card: StageCard
  if (stage === 'amateur') card = await trainAmateur(amateurOptions(out))
  else if (stage === 'expert') card = await trainExpert(expertOptions(out))
  else throw new Error(`stages-worker: unknown stage '${stage}'`)
  const rank = iv.distributed.getRank()
  fs.writeFileSync(
    path.join(rankDir, `card-rank${rank}.json`),
    JSON.stringify({ card, worldSize: iv.distributed.getWorldSize() }),
  )
}

if (require.main === module) void main()
