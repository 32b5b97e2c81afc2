import { describe, expect, it } from '@jest/globals';
import { JOB_PRIORITIES, type JobPriority } from '@app/contracts';
import { PrioritySchedule } from './priority-schedule.js';

/** Starts `count` jobs from queues that never run dry (`waiting`), as a slot would. */
function starts(schedule: PrioritySchedule, waiting: readonly JobPriority[], count: number): JobPriority[] {
  const taken: JobPriority[] = [];
  for (let i = 0; i < count; i++) {
    const [first] = schedule.order(waiting);
    schedule.took(first!, waiting);
    taken.push(first!);
  }
  return taken;
}

describe('the priority schedule', () => {
  it('starts high first, then shares turns 4:2:1 among high, normal and low', () => {
    const taken = starts(new PrioritySchedule(), JOB_PRIORITIES, 70);
    expect(taken[0]).toBe('high');
    expect(taken.slice(0, 7)).toEqual(['high', 'normal', 'high', 'low', 'high', 'normal', 'high']);
    const count = (p: JobPriority) => taken.filter((t) => t === p).length;
    expect([count('high'), count('normal'), count('low')]).toEqual([40, 20, 10]);
  });

  it('never lets low wait more than 7 starts while high and normal have work (no starvation)', () => {
    const taken = starts(new PrioritySchedule(), JOB_PRIORITIES, 700);
    const lows = taken.flatMap((p, i) => (p === 'low' ? [i] : []));
    const gaps = lows.slice(1).map((at, i) => at - lows[i]!);
    expect(lows[0]).toBeLessThan(7);
    expect(Math.max(...gaps)).toBe(7);
  });

  it('gives every turn to the only priority with work, and asks the others in priority order after it', () => {
    const schedule = new PrioritySchedule();
    expect(starts(schedule, ['low'], 5)).toEqual(['low', 'low', 'low', 'low', 'low']);
    expect(schedule.order(['normal', 'low', 'high'])[0]).toBe('high');
    expect(schedule.order(['low', 'normal'])).toEqual(['normal', 'low']);
    expect(schedule.order([])).toEqual([]);
  });

  it('keeps no credit for a priority while it is empty, so new work there gets its share, not a burst', () => {
    const schedule = new PrioritySchedule();
    starts(schedule, ['high', 'normal'], 10);
    schedule.empty('high');
    starts(schedule, ['normal'], 50);
    // High comes back: it leads (it is owed a turn), then the shares are 4:2 again.
    expect(starts(schedule, ['high', 'normal'], 6).filter((p) => p === 'high')).toHaveLength(4);
  });
});
