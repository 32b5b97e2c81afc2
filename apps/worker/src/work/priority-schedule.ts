import { JOB_PRIORITIES, type JobPriority } from '@app/contracts';

/** Of every 7 jobs started from a backlog of all three priorities: 4 high, 2 normal, 1 low. */
export const PRIORITY_WEIGHTS: Readonly<Record<JobPriority, number>> = { high: 4, normal: 2, low: 1 };

/**
 * Which priority a free slot takes its next job from: a smooth weighted round-robin (as nginx balances
 * upstreams). With a backlog of every priority, high starts first and takes most turns, and normal and
 * low still get theirs (4:2:1), so no priority starves. A priority that turned out empty earns no
 * credit while it is empty, so new work there gets its share, not a burst; with only one priority
 * waiting, it gets every turn.
 */
export class PrioritySchedule {
  private readonly credit: Record<JobPriority, number> = { high: 0, normal: 0, low: 0 };

  /** The priorities to ask, among `candidates`: the one owed a turn first, then the others from high to low. */
  order(candidates: readonly JobPriority[]): JobPriority[] {
    if (candidates.length === 0) return [];
    const owed = candidates.reduce((best, p) => (this.credit[p] + PRIORITY_WEIGHTS[p] > this.credit[best] + PRIORITY_WEIGHTS[best] ? p : best));
    return [owed, ...JOB_PRIORITIES.filter((p) => p !== owed && candidates.includes(p))];
  }

  /**
   * A job of `priority` was taken while `candidates` had work: each of them earns its weight, and the
   * one served pays for the round.
   */
  took(priority: JobPriority, candidates: readonly JobPriority[]): void {
    for (const p of candidates) this.credit[p] += PRIORITY_WEIGHTS[p];
    this.credit[priority] -= candidates.reduce((sum, p) => sum + PRIORITY_WEIGHTS[p], 0);
  }

  /** `priority` had nothing to deliver: it keeps no credit it could spend in a burst later. */
  empty(priority: JobPriority): void {
    this.credit[priority] = Math.min(0, this.credit[priority]);
  }
}
