// A GV-B task cut down for fast tests: the first `train` / `test` images of a real task, seeded
// percentage subsets, and a guard that counts (and can forbid) every read of the test split.
import { mixSeed, Rng, subset } from '../../src/data'
import { getTask, type BenchmarkTask } from '../../src/benchmark/tasks'

export interface TestGuard {
  /** While false, task.test() throws. */
  allowTest: boolean
  /** How many times task.test() was called (allowed or not). */
  testCalls: number
}

export function miniTask(name: string, sizes: { train: number; test: number }, guard?: TestGuard): BenchmarkTask {
  const task = getTask(name)
  const range = (n: number) => Int32Array.from({ length: n }, (_, i) => i)
  const train = subset(task.train(), range(sizes.train))
  const test = subset(task.test(), range(sizes.test))
  return {
    ...task,
    card: { ...task.card, sizes },
    train: () => train,
    test: () => {
      if (guard) {
        guard.testCalls++
        if (!guard.allowTest) throw new Error(`test split of '${name}' read before the final scoring`)
      }
      return test
    },
    shotIndices: async (percent: number, seed: number) => {
      const k = Math.max(1, Math.round((sizes.train * percent) / 100))
      return new Rng(mixSeed(seed, percent)).permutation(sizes.train).slice(0, k).sort()
    },
  }
}
