import { useEffect } from 'react';
import { api } from '../api/api-client';
import { useFeed } from '../api/feed-context';
import { ErrorNote, Panel, usePolling } from '../ui/components';
import { bytes } from '../ui/format';

/** The event stream and its consumers: backlog (pending), in progress (ack pending), projector lag. */
export function SystemPanel() {
  const { data, error, reload } = usePolling(() => api.system(), 5000);
  const feed = useFeed();
  // Changes move the figures: refresh on them too, at most once a second.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const unsubscribe = feed.subscribe(() => {
      timer ??= setTimeout(() => {
        timer = null;
        void reload();
      }, 1000);
    });
    return () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    };
  }, [feed, reload]);
  return (
    <Panel title="Stream and consumers" testId="system-panel">
      <ErrorNote error={error} what="Figures" />
      {data && (
        <>
          <dl className="figures">
            <dt>Stream</dt>
            <dd>
              <code>{data.stream.name}</code>
            </dd>
            <dt>Events</dt>
            <dd data-testid="stream-messages">
              {data.stream.messages} <span className="muted">({bytes(data.stream.bytes)}, last seq {data.stream.last_seq})</span>
            </dd>
            <dt>Projector lag</dt>
            <dd data-testid="projector-lag">
              {data.projector.lag === null ? <span className="fail">unknown: {data.projector.error}</span> : `${data.projector.lag} events`}
              {data.projector.checkpoint !== null && <span className="muted"> (checkpoint {data.projector.checkpoint})</span>}
            </dd>
          </dl>
          <table className="compact" data-testid="consumers">
            <thead>
              <tr>
                <th>Consumer</th>
                <th title="Matching messages not delivered yet">Pending</th>
                <th title="Delivered, not acknowledged yet">Ack pending</th>
                <th title="Redeliveries so far">Redelivered</th>
                <th title="Idle pull requests">Waiting</th>
              </tr>
            </thead>
            <tbody>
              {data.consumers.map((c) => (
                <tr key={c.name} data-consumer={c.name}>
                  <td title={c.filter_subject ?? ''}>{c.name}</td>
                  <td>{c.pending}</td>
                  <td>{c.ack_pending}</td>
                  <td>{c.redelivered}</td>
                  <td>{c.waiting}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Panel>
  );
}
