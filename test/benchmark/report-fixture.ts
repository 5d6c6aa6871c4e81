// Crafted benchmark results for the report tests: small builders and one whole partial run.
import type { MetricName, Protocol, ResultRow, RunResults, TaskCard } from '../../src/benchmark/results'

export function card(
  name: string,
  metric: MetricName,
  direction: 'higher' | 'lower',
  extraMetrics: MetricName[] = [],
): TaskCard {
  return {
    name,
    description: `crafted ${metric} task`,
    data: 'crafted',
    sizes: { train: 100, test: 50 },
    metric,
    direction,
    extraMetrics,
    imageSize: 32,
    numClasses: 3,
    classNames: ['a', 'b', 'c'],
  }
}

export function row(
  method: string,
  task: string,
  percent: number,
  seed: number,
  value: number,
  protocol: Protocol = 'linear',
  extra: Record<string, number> = {},
): ResultRow {
  return { method, task, percent, protocol, seed, value, extra, seconds: 1.5 }
}

/** Rows for seeds 0..k-1 with the given values. */
export function seeds(
  method: string,
  task: string,
  percent: number,
  values: number[],
  protocol: Protocol = 'linear',
): ResultRow[] {
  return values.map((v, seed) => row(method, task, percent, seed, v, protocol))
}

export function run(
  tasks: TaskCard[],
  rows: ResultRow[],
  methods: string[] = [],
  overrides: Partial<RunResults> = {},
): RunResults {
  return {
    name: 'crafted',
    version: '0.0.0-test',
    preset: 'tiny',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T01:02:03.000Z',
    machine: { cpu: 'Test CPU', cores: 2, threads: 2, kernelSet: 'avx2', node: 'v20.0.0', platform: 'linux-x64' },
    seeds: [...new Set(rows.map((r) => r.seed))].sort((a, b) => a - b),
    methods: methods.map((id) => ({ id, label: id.toUpperCase(), description: `method ${id}` })),
    stages: [],
    tasks,
    rows,
    ...overrides,
  }
}

export const TASKS = {
  clsA: card('cls-a', 'top1', 'higher'),
  clsB: card('cls-b', 'meanPerClassAccuracy', 'higher', ['top1']),
  det: card('det', 'map50', 'higher'),
  ped: card('ped', 'mr2', 'lower'),
  seg: card('seg', 'miou', 'higher'),
  depth: card('depth', 'rmse', 'lower', ['delta1']),
}

const PIPELINE = ['scratch', 'sup-single', 'image-text', 'up-a', 'up-e-c', 'up-e-d', 'up-e-s', 'up-g-cd', 'up-g-cds']

/**
 * A whole run, still going: every pipeline method plus a user's model that is not declared,
 * three seeds on most cells, one seed or none on some, 100% rows for the baselines, Down-A and
 * fine-tune rows, and stages with loss curves.
 */
export function partialRun(): RunResults {
  const tasks = Object.values(TASKS)
  const rows: ResultRow[] = []
  const strength = (method: string) => 0.1 + 0.06 * Math.max(0, PIPELINE.indexOf(method))
  const value = (task: TaskCard, method: string, percent: number, seed: number) => {
    const s = strength(method) + (percent === 100 ? 0.1 : 0) + ((seed * 7 + task.name.length) % 5) * 0.01
    return task.direction === 'higher' ? Math.min(0.99, 0.2 + s) : task.metric === 'rmse' ? 2 - s : 0.9 - s
  }
  for (const method of [...PIPELINE, 'my-model']) {
    for (const task of tasks) {
      const n = method === 'up-e-s' && task.name === 'depth' ? 0 : method === 'image-text' ? 1 : 3
      for (let seed = 0; seed < n; seed++) {
        const extra: Record<string, number> =
          task.name === 'depth'
            ? { delta1: 0.5 + seed * 0.01, lr: 0.01 }
            : task.name === 'cls-b'
              ? { top1: 0.6 + seed * 0.02 }
              : {}
        rows.push(row(method, task.name, 10, seed, value(task, method, 10, seed), 'linear', extra))
      }
    }
  }
  for (const method of ['scratch', 'sup-single'])
    for (const task of tasks)
      for (let seed = 0; seed < 3; seed++) rows.push(row(method, task.name, 100, seed, value(task, method, 100, seed)))
  for (const seed of [0, 1]) rows.push(row('up-g-cds', 'cls-a', 10, seed, 0.8 + seed * 0.01, 'down-a'))
  rows.push(row('up-a', 'seg', 10, 0, 0.33, 'finetune'))
  return run(tasks, rows, PIPELINE, {
    name: 'crafted <partial> & run',
    finishedAt: null,
    stages: [
      {
        name: 'amateur',
        kind: 'amateur',
        seconds: 754,
        steps: 200,
        finalLosses: { clip: 1.2, simsiam: -0.8 },
        curve: Array.from({ length: 20 }, (_, i) => ({ step: i * 10, loss: 4 / (1 + i / 4) })),
      },
      {
        name: 'expert-C',
        kind: 'expert',
        seconds: 3725,
        steps: 300,
        finalLosses: { ce: 0.7 },
        curve: Array.from({ length: 30 }, (_, i) => ({ step: i * 10, loss: 2.3 * Math.exp(-i / 10) + 0.3 })),
      },
    ],
    methods: [
      ...PIPELINE.map((id) => ({
        id,
        label: { 'up-g-cds': 'Up-G (C-D-S)', 'sup-single': 'Supervised | single source' }[id] ?? id,
        description: '',
      })),
    ],
  })
}
