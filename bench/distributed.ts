// Data-parallel training on MPI: `npm run bench -- distributed` (needs Open MPI and
// `npm run build:mpi`).
// 1. Scaling: mn-t training steps (32 px, DistributedDataParallel, SGD) on one global batch,
//    1 process x 1 thread against 2 processes x 1 thread (half the batch each);
//    efficiency = speedup / 2.
// 2. All-reduce bandwidth, 1-64 MB of float32, 2 ranks: iv.distributed.allReduce from Node
//    against MPI_Allreduce from a C program built with mpicc (the figure Open MPI itself
//    reaches, timed osu_allreduce-style: warm-up, then the mean of a loop). Bus bandwidth is
//    bytes * 2(n-1)/n / time, as nccl-tests reports it.
// The script runs itself as the ranks (its first argument names the role).
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as iv from '../src'
import { median, printTable } from './util'

const GLOBAL_BATCH = Number(process.env.BENCH_DIST_BATCH ?? 32)
const STEPS = 10
const SIZES_MB = [1, 2, 4, 8, 16, 32, 64]
const d = iv.distributed

const report = (value: unknown) => {
  if (d.getRank() === 0) console.log(`RESULT ${JSON.stringify(value)}`)
}

async function scalingRank(): Promise<void> {
  await d.init()
  const batch = GLOBAL_BATCH / d.getWorldSize()
  iv.manualSeed(0)
  const model = iv.createModel('mn-t', { numClasses: 10, imageSize: 32 })
  const ddp = new d.DistributedDataParallel(model)
  const opt = new iv.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 })
  const x = iv.randn([batch, 3, 32, 32], { generator: new iv.Generator(d.getRank()) })
  const y = iv.randint(0, 10, [batch], { generator: new iv.Generator(d.getRank()) })
  model.train()
  const times: number[] = []
  for (let i = 0; i < STEPS + 3; i++) {
    d.barrier()
    const t0 = performance.now()
    iv.scope(() => {
      opt.zeroGrad()
      iv.crossEntropy(model.forward(x) as iv.Tensor, y).backward()
      opt.step()
    })
    if (i >= 3) times.push(performance.now() - t0)
  }
  report({ ms: median(times), threads: iv.getNumThreads(), parameters: model.numParameters(), ...ddp.lastBackward })
  d.destroy()
}

async function bandwidthRank(): Promise<void> {
  await d.init()
  const out: number[] = []
  for (const mb of SIZES_MB) {
    const t = iv.zeros([(mb * 2 ** 20) / 4])
    const iterations = mb <= 8 ? 20 : 8
    for (let i = 0; i < 3; i++) d.allReduce(t)
    d.barrier()
    const t0 = performance.now()
    for (let i = 0; i < iterations; i++) d.allReduce(t)
    out.push((performance.now() - t0) / iterations)
    t.dispose()
  }
  report(out)
  d.destroy()
}

const OSU_STYLE = `
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank; MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) printf("RESULT [");
  for (int a = 1; a < argc; a++) {
    int mb = atoi(argv[a]), n = mb * 1048576 / 4, iterations = mb <= 8 ? 20 : 8;
    float* buf = calloc(n, sizeof(float));
    for (int i = 0; i < 3; i++) MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < iterations; i++) MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    double ms = (MPI_Wtime() - t0) * 1000 / iterations;
    if (rank == 0) printf("%s%f", a > 1 ? "," : "", ms);
    free(buf);
  }
  if (rank == 0) printf("]\\n");
  MPI_Finalize();
  return 0;
}
`

function result<T>(command: string[], nproc: number | null): T {
  const env = { ...process.env, INTERN_VISION_NUM_THREADS: '1', INTERN_VISION_CUDA: '0' }
  const spawn = nproc === null ? { file: command[0], args: command.slice(1), env } : d.mpirunCommand(nproc, command)
  const r = spawnSync(spawn.file, spawn.args, { encoding: 'utf8', env: { ...spawn.env, ...env } })
  const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '))
  if (r.status !== 0 || !line)
    throw new Error(`bench: ${command.join(' ')} failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`)
  return JSON.parse(line.slice(7)) as T
}

function main(): void {
  if (!d.isAvailable('mpi')) {
    console.log(`\n(distributed: skipped, ${d.unavailableReason('mpi')})`)
    return
  }
  const self = [process.execPath, '--import', 'tsx', __filename]
  const load = os.loadavg()[0].toFixed(1)

  type Scaling = { ms: number; threads: number; parameters: number; buckets: number; startedDuringBackward: number }
  const one = result<Scaling>([...self, 'scaling'], null)
  const two = result<Scaling>([...self, 'scaling'], 2)
  printTable(
    `data-parallel mn-t (${(one.parameters / 1e6).toFixed(2)} M parameters) training step, 32 px, global batch ${GLOBAL_BATCH}, 1 thread per process, ms (median of ${STEPS}; load average ${load} on ${os.availableParallelism()} cores)`,
    ['processes', 'batch each', 'step ms', 'images/s', 'speedup', 'efficiency', 'buckets', 'started during backward'],
    [
      [1, GLOBAL_BATCH, one.ms, (GLOBAL_BATCH * 1000) / one.ms, 1, 1, one.buckets, one.startedDuringBackward],
      [
        2,
        GLOBAL_BATCH / 2,
        two.ms,
        (GLOBAL_BATCH * 1000) / two.ms,
        one.ms / two.ms,
        one.ms / two.ms / 2,
        two.buckets,
        two.startedDuringBackward,
      ],
    ],
  )

  const ours = result<number[]>([...self, 'bandwidth'], 2)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iv-osu-'))
  const binary = path.join(dir, 'allreduce')
  fs.writeFileSync(`${binary}.c`, OSU_STYLE)
  const cc = spawnSync('mpicc', ['-O2', `${binary}.c`, '-o', binary], { encoding: 'utf8' })
  const theirs = cc.status === 0 ? result<number[]>([binary, ...SIZES_MB.map(String)], 2) : null
  fs.rmSync(dir, { recursive: true, force: true })
  const busGBs = (mb: number, ms: number) => (mb * 2 ** 20 * (2 * (2 - 1))) / 2 / (ms / 1000) / 1e9
  printTable(
    `all-reduce (sum, float32, in place), 2 ranks on one machine, bus bandwidth GB/s (load average ${load})`,
    ['MB', 'intern-vision ms', 'GB/s', 'MPI_Allreduce (C) ms', 'GB/s', 'ratio'],
    SIZES_MB.map((mb, i) => [
      mb,
      ours[i],
      busGBs(mb, ours[i]),
      theirs ? theirs[i] : NaN,
      theirs ? busGBs(mb, theirs[i]) : NaN,
      theirs ? theirs[i] / ours[i] : NaN,
    ]),
  )
}

const role = process.argv[2]
if (role === 'scaling') void scalingRank()
else if (role === 'bandwidth') void bandwidthRank()
else main()
