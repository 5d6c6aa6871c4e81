// The Pareto front of a search: the trials no other trial beats on both score (higher is better)
// and cost (lower is better).

export interface Point {
  id: number
  cost: number
  score: number
}

/** The non-dominated points, cheapest first; of equal points the first (lowest id) is kept. */
export function paretoFront(points: Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a.cost - b.cost || b.score - a.score || a.id - b.id)
  const front: Point[] = []
  for (const p of sorted) if (front.length === 0 || p.score > front[front.length - 1].score) front.push(p)
  return front
}
