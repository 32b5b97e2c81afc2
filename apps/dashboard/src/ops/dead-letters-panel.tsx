import { api } from '../api/api-client';
import { linkProps } from '../router';
import { ActionButton, ErrorNote, Panel, usePolling } from '../ui/components';
import { ago, shortId } from '../ui/format';

/** Jobs that exhausted their deliveries, each with a button that redrives it as a new attempt. */
export function DeadLettersPanel() {
  const { data, error, reload } = usePolling(() => api.deadLetters(), 5000);
  return (
    <Panel title="Dead letters" testId="dead-letters-panel">
      <ErrorNote error={error} what="Dead letters" />
      {data && data.length === 0 && <p className="muted">None.</p>}
      {data && data.length > 0 && (
        <ul className="dead-letters">
          {data.map((d) => (
            <li key={d.job_id} data-testid="dead-letter">
              <a {...linkProps(`/jobs/${d.job_id}`)}>
                <code>{shortId(d.job_id)}</code>
              </a>{' '}
              <span>{d.pipeline} </span>
              <span className="fail" title={d.error.message}>
                {d.error.code}{' '}
              </span>
              <span className="muted">{d.attempts} attempts </span>
              <span className="muted">{ago(d.dead_lettered_at)} </span>
              <ActionButton label="Redrive" run={() => api.retry(d.job_id).then(reload)} testId="redrive" />
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}
