// Data-parallel training: every rank holds the whole model, takes its own share of each batch,
// and before the optimizer steps, every gradient is replaced by its mean over the ranks, so the
// ranks step alike and stay identical. As in PyTorch, gradients are reduced in buckets of
// about 25 MiB (1 MiB for the first, so communication starts early), in the reverse order of
// the parameters (roughly the order backward produces them), and a bucket's all-reduce
// starts the moment its last gradient is final, while backward is still running.
//
// Unlike PyTorch's, this DistributedDataParallel attaches to the model instead of wrapping
// it: keep calling the model itself, pass it to fit() and optimizers, and its state dict keeps
// its own keys (no 'module.' prefix), so checkpoints are the same with any number of ranks.
import { queueCallback, registerPostAccumulateGradHook, type RemovableHandle } from '../autograd/engine'
import { noGrad } from '../autograd/grad-mode'
import { Module } from '../nn/module'
import type { Parameter } from '../nn/parameter'
import { keep } from '../tensor/memory'
import { shapeStr } from '../tensor/shape'
import { cat } from '../ops/join'
import { tensor } from '../tensor/creation'
import { Tensor } from '../tensor/tensor'
import type { Work } from './communicator'
import { allGather, allReduce, allReduceAsync, broadcast, communicatorFor } from './process-group'

export interface DistributedDataParallelOptions {
  /** Bucket size in MiB (PyTorch's bucket_cap_mb, default 25). */
  bucketCapMb?: number
  /** After each backward, copy rank 0's buffers (BatchNorm's running statistics) to every
   * rank, as PyTorch's broadcast_buffers does (default true). */
  broadcastBuffers?: boolean
}

interface Bucket {
  /** The gradients of `params`, end to end, reduced by one all-reduce. */
  flat: Tensor
  params: Parameter[]
  /** Each parameter's place in flat, shaped like it, and where it starts. */
  slots: Tensor[]
  offsets: number[]
  /** Gradients copied in during the backward pass now running. */
  filled: boolean[]
  count: number
  work: Work | null
}

const FIRST_BUCKET_BYTES = 2 ** 20

export class DistributedDataParallel {
  readonly module: Module
  readonly worldSize: number
  private readonly buckets: Bucket[]
  private readonly where = new Map<Parameter, [Bucket, number]>()
  private readonly hooks: RemovableHandle[]
  private readonly broadcastBuffers: boolean
  private inBackward = false
  private nextLaunch = 0
  /** Of the last backward's buckets, how many started reducing while backward still ran
   * (from a gradient hook) rather than at its end: the overlap, for benchmarks and tests. */
  lastBackward = { buckets: 0, startedDuringBackward: 0 }

  /** Copies rank 0's parameters and buffers to every rank, then reduces gradients from the next backward on. */
  constructor(module: Module, opts: DistributedDataParallelOptions = {}) {
    const fn = 'DistributedDataParallel'
    if (!(module instanceof Module))
      throw new Error(`${fn}: expected a Module, got ${module === null ? 'null' : typeof module}`)
    const { bucketCapMb = 25, broadcastBuffers = true } = opts
    if (!(bucketCapMb > 0)) throw new Error(`${fn}: bucketCapMb must be positive, got ${bucketCapMb}`)
    const params = module.parameters().filter((p) => p.requiresGrad)
    if (params.length === 0) throw new Error(`${fn}: the model has no parameter that requires grad`)
    const device = params[0].device
    const stray = params.find((p) => p.device !== device)
    if (stray)
      throw new Error(`${fn}: parameters are on both ${device} and ${stray.device}; move the model to one device first`)
    const comm = communicatorFor(fn, device)
    this.module = module
    this.worldSize = comm?.worldSize ?? 1
    this.broadcastBuffers = broadcastBuffers
    checkSameModel(fn, module, params)
    broadcastCoalesced([...module.parameters(), ...module.buffers()])
    this.buckets = makeBuckets(params, bucketCapMb * 2 ** 20)
    this.buckets.forEach((b) => b.params.forEach((p, i) => this.where.set(p, [b, i])))
    this.hooks = params.map((p) => registerPostAccumulateGradHook(p, () => this.gradReady(p)))
  }

  /** Stops reducing gradients and frees the buckets; the model is left as it is. */
  remove(): void {
    for (const h of this.hooks) h.remove()
    for (const b of this.buckets) for (const t of [b.flat, ...b.slots]) t.dispose()
    this.hooks.length = 0
    this.buckets.length = 0
  }

  private gradReady(p: Parameter): void {
    if (!this.inBackward) {
      this.inBackward = true
      this.nextLaunch = 0
      this.lastBackward = { buckets: this.buckets.length, startedDuringBackward: 0 }
      for (const b of this.buckets) {
        b.filled.fill(false)
        b.count = 0
      }
      queueCallback(() => this.finish())
    }
    const [bucket, i] = this.where.get(p)!
    if (bucket.filled[i]) return
    bucket.slots[i].copy_(p.grad!)
    bucket.filled[i] = true
    bucket.count++
    this.lastBackward.startedDuringBackward += this.launchReady()
  }

  // Buckets start in index order on every rank, whatever order their gradients arrive in:
  // collectives must be issued in the same order everywhere.
  private launchReady(): number {
    const first = this.nextLaunch
    while (this.nextLaunch < this.buckets.length) {
      const b = this.buckets[this.nextLaunch]
      if (b.count < b.params.length) break
      b.work = allReduceAsync('DistributedDataParallel', b.flat, 'sum')
      this.nextLaunch++
    }
    return this.nextLaunch - first
  }

  // End of backward: parameters this rank did not use contribute their current gradient (or
  // zeros), so every rank reduces every bucket; then each gradient becomes the mean. A
  // parameter no rank used and none had a gradient for keeps no gradient, as in PyTorch, so an
  // optimizer skips it (no weight decay) as one process would.
  private finish(): void {
    this.inBackward = false
    const contributes = this.buckets.flatMap((b) => b.params.map((p, i) => (b.filled[i] || p.grad ? 1 : 0)))
    for (const b of this.buckets.slice(this.nextLaunch)) {
      b.params.forEach((p, i) => {
        if (b.filled[i]) return
        if (p.grad) b.slots[i].copy_(p.grad)
        else b.slots[i].zero_()
        b.filled[i] = true
        b.count++
      })
    }
    this.launchReady()
    // After every bucket, so that all ranks issue their collectives in the same order.
    const flags = tensor(contributes, { dtype: 'float32', device: this.buckets[0].flat.device })
    allReduce(flags)
    const used = flags.data()
    flags.dispose()
    let k = 0
    for (const b of this.buckets) {
      b.work?.wait()
      b.work = null
      const mean = b.flat.div(this.worldSize)
      b.params.forEach((p, i) => {
        if (used[k++] === 0) return
        const part = mean.narrow(0, b.offsets[i], p.numel)
        const slot = part.view(p.shape)
        if (p.grad && !p.grad.disposed) p.grad.copy_(slot)
        else p.grad = keep(slot.clone())
        slot.dispose()
        part.dispose()
      })
      mean.dispose()
    }
    if (this.broadcastBuffers) broadcastCoalesced(this.module.buffers())
  }
}

// Rank 0's values of many tensors in one broadcast per dtype: a model has hundreds of small
// buffers, and each collective costs a round trip between the ranks.
function broadcastCoalesced(tensors: Tensor[]): void {
  const groups = new Map<string, Tensor[]>()
  for (const t of tensors) groups.set(`${t.device}:${t.dtype}`, [...(groups.get(`${t.device}:${t.dtype}`) ?? []), t])
  noGrad(() => {
    for (const group of groups.values()) {
      const pieces = group.map((t) => t.flatten())
      const flat = cat(pieces)
      pieces.forEach((p) => p.dispose())
      broadcast(flat, 0)
      let offset = 0
      for (const t of group) {
        const part = flat.narrow(0, offset, t.numel)
        const shaped = part.view(t.shape)
        t.copy_(shaped)
        shaped.dispose()
        part.dispose()
        offset += t.numel
      }
      flat.dispose()
    }
  })
}

// Parameters in reverse order, grouped by dtype, cut into buckets of at most capBytes (the
// first at most 1 MiB); a parameter larger than the cap gets a bucket of its own.
function makeBuckets(params: Parameter[], capBytes: number): Bucket[] {
  const groups = new Map<string, Parameter[][]>()
  for (const p of [...params].reverse()) {
    const lists = groups.get(p.dtype) ?? [[]]
    groups.set(p.dtype, lists)
    const current = lists[lists.length - 1]
    const cap = lists.length === 1 ? Math.min(FIRST_BUCKET_BYTES, capBytes) : capBytes
    const bytes = current.reduce((n, q) => n + q.numel * q.itemSize, 0)
    if (current.length > 0 && bytes + p.numel * p.itemSize > cap) lists.push([p])
    else current.push(p)
  }
  const buckets: Bucket[] = []
  for (const lists of groups.values())
    for (const list of lists) {
      const total = list.reduce((n, p) => n + p.numel, 0)
      const flat = keep(Tensor.empty([total], list[0].dtype, list[0].device))
      let end = 0
      const offsets = list.map((p) => (end += p.numel) - p.numel)
      const slots = list.map((p, i) => {
        const part = flat.narrow(0, offsets[i], p.numel)
        const slot = keep(part.view(p.shape))
        part.dispose()
        return slot
      })
      buckets.push({ flat, params: list, slots, offsets, filled: list.map(() => false), count: 0, work: null })
    }
  return buckets
}

// Ranks whose models differ would reduce unrelated gradients into each other: compare the
// parameter count, the total size and a hash of the names and shapes first.
function checkSameModel(fn: string, module: Module, params: Parameter[]): void {
  const text = module
    .namedParameters()
    .filter(([, p]) => p.requiresGrad)
    .map(([n, p]) => `${n}:${shapeStr(p.shape)}:${p.dtype}`)
    .join(';')
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  const total = params.reduce((n, p) => n + p.numel, 0)
  const mine = tensor([params.length, total % 2 ** 31, hash | 0], { dtype: 'int32', device: params[0].device })
  const gathered = allGather(mine)
  const rows = gathered.toArray() as number[][]
  mine.dispose()
  gathered.dispose()
  const describe = (r: number) =>
    `rank ${r} has ${rows[r][0]} parameters (${rows[r][1]} elements, shape hash ${rows[r][2] >>> 0})`
  const odd = rows.findIndex((row) => row.some((v, k) => v !== rows[0][k]))
  if (odd >= 0) throw new Error(`${fn}: the ranks' models differ: ${describe(odd)}, ${describe(0)}`)
}
