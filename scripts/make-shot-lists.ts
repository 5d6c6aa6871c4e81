// Draws the shipped percentage-shot lists of the GV-B tasks (10% and 100%, seeds 0, 1, 2) with
// src/data/sampling.ts and writes them, atomically, to benchmark/shots/<task>-<p>pct-seed<s>.txt.
//
//   npx tsx scripts/make-shot-lists.ts [task ...]     (default: every default task)

import { mkdirSync } from 'node:fs'
import {
  DEFAULT_TASKS,
  drawShotList,
  getTask,
  SHIPPED_PERCENTS,
  SHIPPED_SEEDS,
  SHOTS_DIR,
  shotListPath,
} from '../src/benchmark/tasks'
import { formatShotList } from '../src/data/sampling'
import type { Annotation, Dataset, Sample } from '../src/data/types'
import { atomicWrite } from '../src/io/atomic'

/** The dataset with each annotation computed once: six lists per task read them all six times. */
async function withCachedAnnotations(dataset: Dataset<Sample>): Promise<Dataset<Sample>> {
  const annotations: Annotation[] = []
  for (let i = 0; i < dataset.length; i++) annotations.push(await dataset.annotation!(i))
  return { length: dataset.length, info: dataset.info, get: (i) => dataset.get(i), annotation: (i) => annotations[i] }
}

async function main(): Promise<void> {
  const names = process.argv.slice(2)
  mkdirSync(SHOTS_DIR, { recursive: true })
  for (const name of names.length > 0 ? names : DEFAULT_TASKS) {
    const task = getTask(name)
    const started = Date.now()
    const train = await withCachedAnnotations(task.train())
    for (const percent of SHIPPED_PERCENTS) {
      for (const seed of SHIPPED_SEEDS) {
        const list = await drawShotList(task, percent, seed, train)
        const bytes = Buffer.from(formatShotList(list))
        atomicWrite(shotListPath(name, percent, seed), (write) => write(bytes))
      }
    }
    console.log(`${name}: ${train.length} training images, ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
}

main().catch((e: Error) => {
  console.error(`make-shot-lists: ${e.message}`)
  process.exit(1)
})
