import type { JobView } from '@app/contracts';

type Part = JobView['parts'][number];

/** How a part shows: its own status, or `stopped` for one that was queued or running when its job ended. */
export type PartShown = Part['status'] | 'stopped';

/** One bar of a split job's row of parts. */
export interface PartBar {
  index: number;
  /** The bar's share of the row's width, in percent (the shares add up to 100). */
  width: number;
  /** How much of the bar is filled: the part's progress, in percent. */
  fill: number;
  status: PartShown;
  /** The tooltip: index, span, status, attempts and worker. */
  title: string;
}

/**
 * The bars of a split job's parts, in order. Each bar is as wide as its part's span of the video:
 * `end - start`, and for the last part (its `end` is null: to the end of the video) `duration - start`
 * when the video's duration is known. When it is not, every bar gets the same width, since the last
 * part's length could be anything from a frame to a whole `segment_seconds`. A part left queued or
 * running by a job that no longer runs (cancelled, failed, or waiting for another attempt, which
 * splits it again) shows as stopped, since it will not go on.
 */
export function partBars(job: Pick<JobView, 'status' | 'parts'>, duration: number | null): PartBar[] {
  const parts = [...job.parts].sort((a, b) => a.index - b.index);
  if (parts.length === 0) return [];
  const known = duration !== null && Number.isFinite(duration) && duration > 0;
  const spans = parts.map((part) => (part.end !== null ? part.end - part.start : known ? duration - part.start : null));
  // A span that is not positive (a duration read short of the last cut) still gets a sliver.
  const proportional = spans.every((span) => span !== null);
  const weights = proportional ? spans.map((span) => Math.max(span!, 0.001)) : parts.map(() => 1);
  const total = weights.reduce((sum, w) => sum + w, 0);
  const ended = job.status !== 'running';
  return parts.map((part, i) => {
    const status: PartShown = ended && (part.status === 'queued' || part.status === 'running') ? 'stopped' : part.status;
    return {
      index: part.index,
      width: (weights[i]! / total) * 100,
      fill: Math.max(0, Math.min(100, part.progress)),
      status,
      title: partTitle(part, status, i === parts.length - 1 && known ? duration : null),
    };
  });
}

/** `part 2 · 1:00.0–2:00.0 · running 40% · attempt 2 · worker-b` */
function partTitle(part: Part, status: PartShown, duration: number | null): string {
  const end = part.end ?? duration;
  const span = `${position(part.start)}–${end === null ? 'end' : position(end)}`;
  const state = status === 'running' ? `running ${Math.round(part.progress)}%` : status;
  const attempts = part.attempts === 0 ? 'not started' : `attempt ${part.attempts}`;
  return [`part ${part.index}`, span, state, attempts, part.worker_id ?? 'no worker'].join(' · ');
}

/** A position in the video to a tenth of a second: `m:ss.t`. */
function position(seconds: number): string {
  const tenths = Math.round(seconds * 10);
  const m = Math.floor(tenths / 600);
  const s = (tenths % 600) / 10;
  return `${m}:${s.toFixed(1).padStart(4, '0')}`;
}
