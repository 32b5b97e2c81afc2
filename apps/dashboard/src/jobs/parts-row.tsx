import type { JobView } from '@app/contracts';
import { partBars } from './split-parts';

/**
 * A split job's parts as a row of bars (split-parts.ts lays them out): one per part, as wide as its
 * span of the video, coloured by its status and filled to its progress, its details in a tooltip.
 * It is drawn from the job's view, so it moves whenever the page reloads the job on a live change.
 */
export function PartsRow({ job, duration }: { job: Pick<JobView, 'status' | 'parts'>; duration: number | null }) {
  const bars = partBars(job, duration);
  const done = bars.filter((bar) => bar.status === 'completed').length;
  return (
    <div className="parts" data-testid="parts">
      <div className="parts-row" role="list" aria-label={`${done} of ${bars.length} parts made`}>
        {bars.map((bar) => (
          <div
            key={bar.index}
            role="listitem"
            className={`part part-${bar.status}`}
            style={{ width: `${bar.width}%` }}
            title={bar.title}
            aria-label={bar.title}
            data-testid="part"
            data-index={bar.index}
            data-status={bar.status}
          >
            <div className="part-fill" style={{ width: `${bar.fill}%` }} />
          </div>
        ))}
      </div>
      <span className="muted">
        {done} of {bars.length} parts made
      </span>
    </div>
  );
}
