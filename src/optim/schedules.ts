// Learning-rate schedules as pure functions of the step, and an LRScheduler that writes
// them into an optimizer's groups. The closed forms equal torch's schedulers:
// LinearLR (warmup), CosineAnnealingLR, StepLR, MultiStepLR, PolynomialLR.

/** The learning rate at `step` (0-based) for a group whose base lr is baseLr. */
export type Schedule = (step: number, baseLr: number) => number

function positiveInt(fn: string, key: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1)
    throw new Error(`${fn}: ${key} must be an integer >= 1, got ${String(v)}`)
  return v as number
}

function finiteAtLeast(fn: string, key: string, v: unknown, lo: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo)
    throw new Error(`${fn}: ${key} must be a finite number >= ${lo}, got ${String(v)}`)
  return v
}

function checkStep(fn: string, step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new Error(`${fn}: step must be an integer >= 0, got ${step}`)
}

/** The base lr throughout (useful under withLinearWarmup). */
export function constantSchedule(): Schedule {
  return (step, base) => (checkStep('constantSchedule', step), base)
}

/** Cosine decay from the base lr to minLr over totalSteps (CosineAnnealingLR), then minLr. */
export function cosineSchedule(opts: { totalSteps: number; minLr?: number }): Schedule {
  const fn = 'cosineSchedule'
  const T = positiveInt(fn, 'totalSteps', opts.totalSteps)
  const minLr = finiteAtLeast(fn, 'minLr', opts.minLr ?? 0, 0)
  return (step, base) => {
    checkStep(fn, step)
    const t = Math.min(step, T) // torch's curve would rise again past T_max; decay ends at minLr
    return minLr + ((base - minLr) * (1 + Math.cos((Math.PI * t) / T))) / 2
  }
}

/** base * gamma^floor(step / stepSize) (StepLR). */
export function stepSchedule(opts: { stepSize: number; gamma?: number }): Schedule {
  const fn = 'stepSchedule'
  const size = positiveInt(fn, 'stepSize', opts.stepSize)
  const gamma = finiteAtLeast(fn, 'gamma', opts.gamma ?? 0.1, 0)
  return (step, base) => (checkStep(fn, step), base * gamma ** Math.floor(step / size))
}

/** base * gamma^(milestones passed) (MultiStepLR; a repeated milestone counts twice). */
export function multiStepSchedule(opts: { milestones: number[]; gamma?: number }): Schedule {
  const fn = 'multiStepSchedule'
  if (!Array.isArray(opts.milestones)) throw new Error(`${fn}: milestones must be an array of step numbers`)
  const ms = opts.milestones.map((m) => {
    if (!Number.isInteger(m) || m < 0)
      throw new Error(`${fn}: milestones must be integers >= 0, got ${JSON.stringify(opts.milestones)}`)
    return m
  })
  for (let i = 1; i < ms.length; i++)
    if (ms[i] < ms[i - 1]) throw new Error(`${fn}: milestones must be non-decreasing, got ${JSON.stringify(ms)}`)
  const gamma = finiteAtLeast(fn, 'gamma', opts.gamma ?? 0.1, 0)
  return (step, base) => {
    checkStep(fn, step)
    let passed = 0
    while (passed < ms.length && ms[passed] <= step) passed++
    return base * gamma ** passed
  }
}

/** minLr + (base - minLr) * (1 - min(step, totalSteps) / totalSteps)^power (PolynomialLR when minLr is 0). */
export function polySchedule(opts: { totalSteps: number; power?: number; minLr?: number }): Schedule {
  const fn = 'polySchedule'
  const T = positiveInt(fn, 'totalSteps', opts.totalSteps)
  const power = finiteAtLeast(fn, 'power', opts.power ?? 1, 0)
  const minLr = finiteAtLeast(fn, 'minLr', opts.minLr ?? 0, 0)
  return (step, base) => (checkStep(fn, step), minLr + (base - minLr) * (1 - Math.min(step, T) / T) ** power)
}

/**
 * Linear warmup from startFactor * base to base over warmupSteps (LinearLR), then `after`
 * from its own step 0: step warmupSteps gets after(0, base).
 */
export function withLinearWarmup(after: Schedule, opts: { warmupSteps: number; startFactor?: number }): Schedule {
  const fn = 'withLinearWarmup'
  if (typeof after !== 'function') throw new Error(`${fn}: the schedule to follow the warmup must be a function`)
  const W = positiveInt(fn, 'warmupSteps', opts.warmupSteps)
  const start = finiteAtLeast(fn, 'startFactor', opts.startFactor ?? 0, 0)
  if (start > 1) throw new Error(`${fn}: startFactor must be in [0, 1], got ${start}`)
  return (step, base) => {
    checkStep(fn, step)
    return step < W ? base * (start + ((1 - start) * step) / W) : after(step - W, base)
  }
}

/** Linear warmup over warmupSteps, then cosine decay to minLr at totalSteps (warmup included). */
export function warmupCosineSchedule(opts: {
  warmupSteps: number
  totalSteps: number
  minLr?: number
  startFactor?: number
}): Schedule {
  const fn = 'warmupCosineSchedule'
  const total = positiveInt(fn, 'totalSteps', opts.totalSteps)
  const warm = positiveInt(fn, 'warmupSteps', opts.warmupSteps)
  if (warm >= total) throw new Error(`${fn}: warmupSteps (${warm}) must be less than totalSteps (${total})`)
  return withLinearWarmup(cosineSchedule({ totalSteps: total - warm, minLr: opts.minLr }), {
    warmupSteps: warm,
    startFactor: opts.startFactor,
  })
}

/** What LRScheduler needs of an optimizer. */
export interface LrGroups {
  paramGroups: { lr: number; initialLr?: number }[]
}

export interface LRSchedulerStateDict {
  lastStep: number
  baseLrs: number[]
}

/**
 * Sets each group's lr from a schedule of the step. Construction applies step 0 (as torch's
 * schedulers do), so call scheduler.step() after each optimizer.step(). Base lrs come from
 * each group's initialLr, which is set from its lr on first use (torch's 'initial_lr').
 */
export class LRScheduler {
  lastStep = 0
  readonly baseLrs: number[]
  private readonly schedules: Schedule[]

  /** One schedule for every group, or one per group. */
  constructor(
    readonly optimizer: LrGroups,
    schedule: Schedule | Schedule[],
  ) {
    const groups = optimizer?.paramGroups
    if (!Array.isArray(groups) || groups.length === 0)
      throw new Error('LRScheduler: expected an optimizer with parameter groups')
    this.schedules = Array.isArray(schedule) ? [...schedule] : groups.map(() => schedule)
    if (this.schedules.length !== groups.length)
      throw new Error(`LRScheduler: got ${this.schedules.length} schedules for ${groups.length} parameter groups`)
    this.schedules.forEach((s, i) => {
      if (typeof s !== 'function') throw new Error(`LRScheduler: schedule ${i} is not a function`)
    })
    for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr
    this.baseLrs = groups.map((g) => g.initialLr as number)
    this.apply()
  }

  /** Advances one step and sets the groups' lr. */
  step(): void {
    this.lastStep++
    this.apply()
  }

  /** The lr of each group as last set. */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr)
  }

  stateDict(): LRSchedulerStateDict {
    return { lastStep: this.lastStep, baseLrs: [...this.baseLrs] }
  }

  /** Restores the step and base lrs and sets the groups' lr for that step. */
  loadStateDict(sd: LRSchedulerStateDict): void {
    const fn = 'LRScheduler.loadStateDict'
    if (sd === null || typeof sd !== 'object') throw new Error(`${fn}: expected {lastStep, baseLrs}`)
    if (!Number.isInteger(sd.lastStep) || sd.lastStep < 0)
      throw new Error(`${fn}: lastStep must be an integer >= 0, got ${String(sd.lastStep)}`)
    if (!Array.isArray(sd.baseLrs) || sd.baseLrs.length !== this.baseLrs.length)
      throw new Error(
        `${fn}: baseLrs must list ${this.baseLrs.length} learning rates (one per group), got ${JSON.stringify(sd.baseLrs)}`,
      )
    sd.baseLrs.forEach((v, i) => finiteAtLeast(fn, `baseLrs[${i}]`, v, 0))
    this.lastStep = sd.lastStep
    sd.baseLrs.forEach((v, i) => {
      this.baseLrs[i] = v
      this.optimizer.paramGroups[i].initialLr = v
    })
    this.apply()
  }

  private apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      const lr = this.schedules[i](this.lastStep, this.baseLrs[i])
      if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0)
        throw new Error(
          `LRScheduler: schedule ${i} gave lr ${String(lr)} at step ${this.lastStep}; it must be a finite number >= 0`,
        )
      g.lr = lr
    })
  }
}
