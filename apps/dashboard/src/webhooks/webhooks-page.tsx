import { useState, type ReactNode } from 'react';
import type { WebhookEndpointView, WebhookEventType, WebhookWithSecret } from '@app/contracts';
import { api } from '../api/api-client';
import { DEFAULT_EVENTS, WEBHOOK_EVENTS } from '../api/types';
import { linkProps } from '../router';
import { ActionButton, ErrorNote, Panel, StatusBadge, usePolling } from '../ui/components';
import { ago, shortId } from '../ui/format';
import { createBody, endpointState, lastOutcome, toggleEvent } from './webhooks.state';

const DELIVERIES_SHOWN = 25;

/**
 * The webhook endpoints the key may see, a form to register one, and the recent deliveries of the
 * selected one with a retry button each. A signing secret is shown once, as the API gives it: after
 * creating an endpoint or rotating its secret.
 */
export function WebhooksPage() {
  const { data, error, reload } = usePolling(() => api.webhooks(), 10_000);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ endpoint: WebhookWithSecret; what: 'created' | 'rotated' } | null>(null);
  const selected = data?.find((w) => w.id === selectedId) ?? null;

  const showSecret = (endpoint: WebhookWithSecret, what: 'created' | 'rotated') => {
    setSecret({ endpoint, what });
    setSelectedId(endpoint.id);
    void reload();
  };

  return (
    <div data-testid="webhooks-page">
      <CreateWebhookForm onCreated={(endpoint) => showSecret(endpoint, 'created')} />
      {secret?.what === 'created' && <SecretNote endpoint={secret.endpoint} what={secret.what} onDismiss={() => setSecret(null)} />}
      <Panel title="Webhooks" testId="webhooks-panel">
        <ErrorNote error={error} what="Webhooks" />
        {data && data.length === 0 && <p className="muted">No endpoints yet.</p>}
        {data && data.length > 0 && (
          <table>
            <thead>
              <tr>
                <th>URL</th>
                <th>Events</th>
                <th>State</th>
                <th>Failing since</th>
                <th>Description</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.map((w) => (
                <EndpointRow key={w.id} endpoint={w} selected={w.id === selectedId} onSelect={() => setSelectedId(w.id === selectedId ? null : w.id)} />
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      {selected && (
        <EndpointDetail key={selected.id} endpoint={selected} onChanged={() => void reload()} onRotated={(endpoint) => showSecret(endpoint, 'rotated')}>
          {/* A rotated secret shows here, beside the button that made it. */}
          {secret?.what === 'rotated' && secret.endpoint.id === selected.id && <SecretNote endpoint={secret.endpoint} what={secret.what} onDismiss={() => setSecret(null)} />}
        </EndpointDetail>
      )}
    </div>
  );
}

function EndpointRow({ endpoint: w, selected, onSelect }: { endpoint: WebhookEndpointView; selected: boolean; onSelect: () => void }) {
  const state = endpointState(w);
  return (
    <tr data-testid="webhook-row" data-webhook-id={w.id} className={selected ? 'selected' : undefined}>
      <td className="wrap url" title={`${w.id} (tenant ${w.tenant})`}>
        <code>{w.url}</code>
      </td>
      <td className="wrap">{w.events.join(', ')}</td>
      <td>
        <StatusBadge status={state.label} />
        {state.reason && <div className="row-error">{state.reason}</div>}
      </td>
      <td title={w.failing_since ?? undefined} className={w.failing_since ? 'fail' : undefined}>
        {ago(w.failing_since)}
      </td>
      <td className="wrap">{w.description || <span className="muted">–</span>}</td>
      <td>
        <button type="button" className="link" onClick={onSelect} data-testid="webhook-select">
          {selected ? 'Hide deliveries' : 'Deliveries'}
        </button>
      </td>
    </tr>
  );
}

/** Register an endpoint: its URL, the events it hears (by default how each job ended), a note. */
function CreateWebhookForm({ onCreated }: { onCreated: (endpoint: WebhookWithSecret) => void }) {
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<WebhookEventType[]>([...DEFAULT_EVENTS]);
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const form = createBody({ url, events, description });

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    if (!form.ok) return;
    setBusy(true);
    setError(null);
    try {
      onCreated(await api.createWebhook(form.body));
      setUrl('');
      setDescription('');
      setEvents([...DEFAULT_EVENTS]);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Panel title="New webhook">
      <form className="webhook-form" onSubmit={submit} data-testid="webhook-create-form">
        <label className="url">
          URL{' '}
          <input type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/framewire-hook" required data-testid="webhook-url" />
        </label>
        <label className="description">
          Description <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={500} data-testid="webhook-description" />
        </label>
        <fieldset>
          <legend>Events</legend>
          {(Object.entries(WEBHOOK_EVENTS) as Array<[WebhookEventType, string]>).map(([type, meaning]) => (
            <label key={type} title={meaning}>
              <input type="checkbox" checked={events.includes(type)} onChange={(e) => setEvents(toggleEvent(events, type, e.target.checked))} data-testid={`webhook-event-${type}`} /> {type}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={!form.ok || busy} data-testid="webhook-submit">
          {busy ? '…' : 'Create'}
        </button>
      </form>
      {!form.ok && url.trim() !== '' && <p className="field-error">{form.reason}</p>}
      <ErrorNote error={error} what="Create" />
    </Panel>
  );
}

/** The secret the API shows once: copy it now, into whatever verifies the signatures. */
function SecretNote({ endpoint, what, onDismiss }: { endpoint: WebhookWithSecret; what: string; onDismiss: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  return (
    <div className="secret-note" role="status">
      <p>
        <strong>Signing secret</strong> of <code>{endpoint.url}</code> ({what}). Copy it now: it is not shown again.
      </p>
      <div className="actions">
        <code className="secret" data-testid="webhook-secret">
          {endpoint.secret}
        </code>
        <button
          type="button"
          onClick={() =>
            navigator.clipboard.writeText(endpoint.secret).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          Copy
        </button>
        {copied === true && <span className="ok">copied</span>}
        {copied === false && <span className="muted">select it and copy by hand</span>}
        <button type="button" onClick={onDismiss}>
          I have stored it
        </button>
      </div>
    </div>
  );
}

/** One endpoint: switch it on or off, rotate its secret, and its recent deliveries, each with Retry. */
function EndpointDetail({
  endpoint: w,
  onChanged,
  onRotated,
  children,
}: {
  endpoint: WebhookEndpointView;
  onChanged: () => void;
  onRotated: (endpoint: WebhookWithSecret) => void;
  children?: ReactNode;
}) {
  const deliveries = usePolling(() => api.webhookDeliveries(w.id, { limit: DELIVERIES_SHOWN }), 5000, [w.id]);
  const rotate = async () => {
    if (!window.confirm('Give this endpoint a new signing secret? The current one keeps signing beside it for a while, so the receiver can switch.')) return;
    onRotated(await api.rotateWebhookSecret(w.id));
  };
  return (
    <Panel
      title={`Deliveries to ${w.url}`}
      testId="webhook-detail"
      actions={
        <div className="actions">
          {w.enabled ? (
            <ActionButton key="disable" label="Disable" kind="danger" run={() => api.updateWebhook(w.id, { enabled: false }).then(onChanged)} testId="webhook-disable" />
          ) : (
            <ActionButton key="enable" label="Enable" run={() => api.updateWebhook(w.id, { enabled: true }).then(onChanged)} testId="webhook-enable" />
          )}
          <ActionButton label="Rotate secret" run={rotate} testId="webhook-rotate" />
        </div>
      }
    >
      {children}
      {!w.enabled && (
        <p className="fail">
          Disabled{w.disabled_reason ? `: ${w.disabled_reason}` : ''}. Nothing is delivered, and deliveries cannot be retried, until it is enabled.
        </p>
      )}
      {w.previous_secret_expires_at && <p className="muted">The previous secret also signs until {new Date(w.previous_secret_expires_at).toLocaleString()}.</p>}
      <ErrorNote error={deliveries.error} what="Deliveries" />
      {deliveries.data && deliveries.data.deliveries.length === 0 && <p className="muted">No deliveries yet.</p>}
      {deliveries.data && deliveries.data.deliveries.length > 0 && (
        <table className="compact">
          <thead>
            <tr>
              <th>Status</th>
              <th>Event</th>
              <th>Job</th>
              <th>Attempts</th>
              <th>Last</th>
              <th>Next attempt</th>
              <th>Delivered</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {deliveries.data.deliveries.map((d) => {
              const last = lastOutcome(d);
              return (
                <tr key={d.id} data-testid="delivery-row" data-delivery-id={d.id}>
                  <td title={`delivery ${d.id}, event ${d.event_id} (seq ${d.stream_seq})`}>
                    <StatusBadge status={d.status} />
                  </td>
                  <td>{d.event_type}</td>
                  <td>
                    <a {...linkProps(`/jobs/${d.job_id}`)}>
                      <code>{shortId(d.job_id)}</code>
                    </a>
                  </td>
                  <td>{d.attempts}</td>
                  <td className={last.failed ? 'fail' : undefined} title={d.last_error ?? undefined}>
                    {last.text.length > 48 ? `${last.text.slice(0, 47)}…` : last.text}
                  </td>
                  <td title={d.next_attempt_at ?? undefined}>{d.next_attempt_at ? new Date(d.next_attempt_at).toLocaleTimeString(undefined, { hour12: false }) : '–'}</td>
                  <td title={d.delivered_at ?? undefined}>{ago(d.delivered_at)}</td>
                  <td>
                    <ActionButton label="Retry" run={() => api.retryDelivery(w.id, d.id).then(deliveries.reload)} testId="delivery-retry" />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {deliveries.data?.next_cursor && (
        <p className="muted">
          The {DELIVERIES_SHOWN} most recent; <code>framewire webhooks deliveries {w.id} --all</code> lists every one.
        </p>
      )}
    </Panel>
  );
}
