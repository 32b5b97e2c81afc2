import { useEffect } from 'react';
import type { SystemView } from '@app/contracts';
import { api } from '../api/api-client';
import { useFeed } from '../api/feed-context';
import { linkProps } from '../router';
import { ErrorNote, Panel, usePolling } from '../ui/components';
import { ago, bytes, shortId } from '../ui/format';

/** The event stream and its consumers: backlog (pending), in progress (ack pending), projector lag, parked events. */
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
            <dt title="Events whose row the read model could not write: the projection went on without them">Parked events</dt>
            <dd data-testid="parked-count">
              {data.projector.parked === null || data.projector.parked === undefined ? (
                <span className="muted">unknown</span>
              ) : (
                <span className={data.projector.parked.count > 0 ? 'fail' : undefined}>{data.projector.parked.count}</span>
              )}
            </dd>
          </dl>
          <ParkedEvents parked={data.projector.parked} />
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

/** The most recent parked events: each one's job is not what its events say until a release can write it. */
function ParkedEvents({ parked }: { parked: SystemView['projector']['parked'] | undefined }) {
  if (!parked || parked.recent.length === 0) return null;
  return (
    <table className="compact" data-testid="parked-events">
      <thead>
        <tr>
          <th>Seq</th>
          <th>Job</th>
          <th>Event</th>
          <th>Error</th>
          <th>Parked</th>
        </tr>
      </thead>
      <tbody>
        {parked.recent.map((p) => (
          <tr key={p.seq} data-seq={p.seq}>
            <td>{p.seq}</td>
            <td>
              <a {...linkProps(`/jobs/${p.job_id}`)}>
                <code>{shortId(p.job_id)}</code>
              </a>
            </td>
            <td>
              {p.event_type} v{p.event_version}
            </td>
            <td className="fail" title={p.error_message}>
              {p.error_code}
            </td>
            <td className="muted">{ago(p.parked_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
