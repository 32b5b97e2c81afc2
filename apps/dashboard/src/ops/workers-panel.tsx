import { api } from '../api/api-client';
import { linkProps } from '../router';
import { ErrorNote, Panel, usePolling } from '../ui/components';
import { ago, shortId } from '../ui/format';

/** The workers that heartbeat into the registry: id, host, slots, what they run, last heartbeat. */
export function WorkersPanel() {
  const { data, error } = usePolling(() => api.workers(), 3000);
  return (
    <Panel title="Workers" testId="workers-panel">
      <ErrorNote error={error} what="Workers" />
      {data && data.length === 0 && <p className="muted">No worker has sent a heartbeat.</p>}
      {data && data.length > 0 && (
        <table className="compact">
          <thead>
            <tr>
              <th>Worker</th>
              <th>Host</th>
              <th>Slots</th>
              <th>In flight</th>
              <th>Heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {data.map((w) => (
              <tr key={w.worker_id} data-testid="worker-row">
                <td title={`pid ${w.pid}, pipelines ${w.pipelines.join(', ')}, since ${w.started_at}`}>{w.worker_id}</td>
                <td>{w.host}</td>
                <td>
                  {w.in_flight.length}/{w.concurrency}
                </td>
                <td>
                  {w.in_flight.map((id) => (
                    <a key={id} {...linkProps(`/jobs/${id}`)}>
                      <code>{shortId(id)}</code>{' '}
                    </a>
                  ))}
                </td>
                <td title={w.last_heartbeat}>{ago(w.last_heartbeat)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}
