// Strategies on a synthetic objective with a known optimum (a separable score over the tiny
// space's decisions), their determinism (what resume relies on), the feasibility contract,
// and the Pareto front and chart.
import t from 'tap'
import { Rng } from '../../src/data/rng'
import {
  SEARCH_SPACES,
  activeDecisions,
  cardinalities,
  createStrategy,
  paretoChart,
  paretoFront,
  replayPolicy,
  ticks,
  type Observation,
  type Strategy,
} from '../../src/search'

const cards = cardinalities(SEARCH_SPACES.tiny)

/** A random separable objective scaled to [0, 1]: its optimum (score 1) takes the best option of every decision. */
function objective(seed: number): (g: number[]) => number {
  const rng = new Rng(1000 + seed)
  const values = cards.map((n) => Array.from({ length: n }, () => rng.next()))
  const sum = (pick: (v: number[]) => number): number => values.map(pick).reduce((a, b) => a + b, 0)
  const best = sum((v) => Math.max(...v))
  const worst = sum((v) => Math.min(...v))
  return (g) => (g.reduce((s, k, d) => s + values[d][k], 0) - worst) / (best - worst)
}

function bestAfter(strategy: Strategy, seed: number, trials: number): number {
  const score = objective(seed)
  const history: Observation[] = []
  const seen = new Set<string>()
  for (let i = 0; i < trials; i++) {
    const g = strategy.propose({
      cardinalities: cards,
      history,
      rng: Rng.derive(seed, i),
      feasible: (x) => !seen.has(x.join()),
    })
    seen.add(g.join())
    history.push({ genome: g, score: score(g) })
  }
  return Math.max(...history.map((h) => h.score))
}

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length

t.test('evolution and REINFORCE beat random search at equal trials', async (t) => {
  const seeds = [0, 1, 2, 3, 4, 5]
  const trials = 100
  const result = Object.fromEntries(
    ['random', 'evolution', 'rl'].map((name) => [name, seeds.map((s) => bestAfter(createStrategy(name), s, trials))]),
  )
  const [r, e, rl] = [mean(result.random), mean(result.evolution), mean(result.rl)]
  t.comment(
    `mean best of ${trials} trials over ${seeds.length} seeds (optimum 1): random ${r.toFixed(3)}, evolution ${e.toFixed(3)}, rl ${rl.toFixed(3)}`,
  )
  t.ok(e > r + 0.05, `evolution ${e.toFixed(3)} > random ${r.toFixed(3)} + 0.05`)
  t.ok(rl > r + 0.05, `rl ${rl.toFixed(3)} > random ${r.toFixed(3)} + 0.05`)
  t.ok(
    seeds.filter((_, i) => result.evolution[i] > result.random[i]).length >= 5,
    'evolution wins on at least 5 of 6 seeds',
  )
})

t.test('a proposal is a pure function of the history and the stream', async (t) => {
  const score = objective(9)
  const history: Observation[] = Array.from({ length: 12 }, (_, i) => {
    const g = cards.map((n) => Rng.derive(5, i).int(0, n))
    return { genome: g, score: score(g) }
  })
  for (const name of ['random', 'evolution', 'rl']) {
    const propose = () =>
      createStrategy(name).propose({ cardinalities: cards, history, rng: Rng.derive(3, 12), feasible: () => true })
    t.same(propose(), propose(), `${name}: same history and stream, same genome`)
  }
})

t.test('proposals respect feasibility; an impossible budget is named', async (t) => {
  for (const name of ['random', 'evolution', 'rl']) {
    const s = createStrategy(name, { population: 4, sampleSize: 2 })
    const history: Observation[] = []
    for (let i = 0; i < 10; i++) {
      const g = s.propose({ cardinalities: cards, history, rng: Rng.derive(1, i), feasible: (x) => x[0] !== 0 })
      t.not(g[0], 0, `${name} trial ${i} feasible`)
      history.push({ genome: g, score: i / 10 })
    }
    t.throws(
      () => s.propose({ cardinalities: cards, history, rng: new Rng(0), feasible: () => false }),
      /no feasible genome in 10000 draws/,
    )
  }
  t.throws(() => createStrategy('annealing'), /unknown strategy 'annealing'; known: random, evolution, rl/)
  t.throws(
    () => createStrategy('evolution', { population: 4, sampleSize: 5 }),
    /sampleSize must be an integer in \[1, population = 4\], got 5/,
  )
})

t.test('evolution mutates one active gene of a tournament winner', async (t) => {
  const space = SEARCH_SPACES.tiny
  const active = (g: number[]) => activeDecisions(space, g)
  const parent = cards.map(() => 0)
  // A population of one genome (every member the same): each child differs from it in exactly one active gene.
  const history: Observation[] = Array.from({ length: 8 }, () => ({ genome: parent, score: 0.5 }))
  for (let i = 0; i < 20; i++) {
    const child = createStrategy('evolution').propose({
      cardinalities: cards,
      history,
      rng: Rng.derive(2, i),
      feasible: () => true,
      active,
    })
    const diff = child.flatMap((v, d) => (v !== parent[d] ? [d] : []))
    t.equal(diff.length, 1, `child ${i} differs in one gene`)
    t.ok(active(parent).includes(diff[0]), `child ${i} changed an active gene`)
  }
})

t.test('REINFORCE moves probability towards better-scored options', async (t) => {
  // Two decisions of two options: option 1 of decision 0 scores high, decision 1 does not matter.
  const history: Observation[] = Array.from({ length: 40 }, (_, i) => ({ genome: [i % 2, (i >> 1) % 2], score: i % 2 }))
  const logits = replayPolicy({ cardinalities: [2, 2] }, history)
  t.ok(
    logits[0][1] - logits[0][0] > 1,
    `decision 0 prefers option 1 (logit gap ${(logits[0][1] - logits[0][0]).toFixed(2)})`,
  )
  t.ok(
    Math.abs(logits[1][1] - logits[1][0]) < Math.abs(logits[0][1] - logits[0][0]) / 4,
    'the irrelevant decision moves far less',
  )
})

t.test('Pareto front and chart', async (t) => {
  const points = [
    { id: 0, cost: 3, score: 0.5 },
    { id: 1, cost: 1, score: 0.2 },
    { id: 2, cost: 2, score: 0.6 },
    { id: 3, cost: 2, score: 0.4 }, // dominated by 2
    { id: 4, cost: 4, score: 0.6 }, // dominated by 2 (same score, more cost)
    { id: 5, cost: 5, score: 0.9 },
    { id: 6, cost: 2, score: 0.6 }, // equal to 2: the earlier is kept
  ]
  t.same(
    paretoFront(points).map((p) => p.id),
    [1, 2, 5],
  )
  t.same(ticks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1])
  // (3.2 - 0.95) / 4 = 0.56: the next round step is 1.
  t.same(ticks(0.95, 3.2, 4), [1, 2, 3])
  const svg = paretoChart([{ title: 'a <b>', xLabel: 'cost', points, highlight: 5 }])
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  t.equal((svg.match(/<circle cx/g) ?? []).length, points.length, 'one grey dot per trial')
  t.equal((svg.match(/<circle class="front"/g) ?? []).length, 3, 'one blue dot per front point')
  t.equal((svg.match(/<circle class="best"/g) ?? []).length, 1, 'the best is ringed')
  t.match(svg, /a &lt;b&gt;/, 'text is escaped')
})
