import type { WebhookDeliveryView, WebhookEndpointView, WebhookEventType } from '@app/contracts';
import { WEBHOOK_EVENTS } from '../api/types';

/** The form's events with `type` switched on or off, in the order the form lists them. */
export function toggleEvent(events: readonly WebhookEventType[], type: WebhookEventType, on: boolean): WebhookEventType[] {
  const chosen = new Set(events);
  if (on) chosen.add(type);
  else chosen.delete(type);
  return (Object.keys(WEBHOOK_EVENTS) as WebhookEventType[]).filter((t) => chosen.has(t));
}

export interface CreateForm {
  url: string;
  events: readonly WebhookEventType[];
  description: string;
}

/** The body of POST /v1/webhooks, or why the form cannot be sent yet (the API judges the URL itself). */
export function createBody(form: CreateForm): { ok: true; body: { url: string; events: WebhookEventType[]; description: string } } | { ok: false; reason: string } {
  const url = form.url.trim();
  if (!url) return { ok: false, reason: 'enter the URL to deliver to' };
  if (form.events.length === 0) return { ok: false, reason: 'choose at least one event' };
  return { ok: true, body: { url, events: [...form.events], description: form.description.trim() } };
}

/** Enabled, or disabled and why (Framewire's reason; none when a user switched it off). */
export function endpointState(endpoint: Pick<WebhookEndpointView, 'enabled' | 'disabled_reason'>): { label: 'enabled' | 'disabled'; reason: string | null } {
  return endpoint.enabled ? { label: 'enabled', reason: null } : { label: 'disabled', reason: endpoint.disabled_reason };
}

/** What the last attempt got: the endpoint's HTTP status, or the error when there was no answer. */
export function lastOutcome(d: Pick<WebhookDeliveryView, 'last_status_code' | 'last_error'>): { text: string; failed: boolean } {
  if (d.last_status_code !== null) return { text: `HTTP ${d.last_status_code}`, failed: d.last_status_code < 200 || d.last_status_code >= 300 };
  if (d.last_error) return { text: d.last_error, failed: true };
  return { text: '–', failed: false };
}
