import { inSpan, injectTraceContext, SpanKind, SpanStatusCode, traceContextOf, TraceAttr, type Attributes, type Span } from '@app/observability';
import type { DeliveryTrace } from '../store/webhook.repository.js';
import { postWebhook, type PostOutcome, type WebhookRequest } from './post-webhook.js';
import { hostOf } from './url-policy.js';

/** The attempt a span is about: its delivery, its number, the job, and the trace of the event it tells of. */
export interface WebhookAttempt {
  deliveryId: string;
  /** From 1. */
  attempt: number;
  jobId: string;
  /** Null when the event was not traced: the attempt starts a trace of its own. */
  trace: DeliveryTrace | null;
}

/**
 * One delivery attempt (postWebhook) as a CLIENT span `POST webhook` in the trace of the event the
 * delivery tells of, whenever and by whichever instance it is made. The request carries the span's
 * `traceparent` (and `tracestate`), so that the receiver can go on with the trace: the signature
 * covers the id, the timestamp and the body only, so a receiver verifies it as before. For a process
 * that records spans only (tracingActive): otherwise call postWebhook, which makes no span.
 */
export function postWebhookInSpan(request: WebhookRequest, attempt: WebhookAttempt): Promise<PostOutcome> {
  const parent = traceContextOf(attempt.trace?.traceparent, attempt.trace?.tracestate);
  return inSpan(
    'POST webhook',
    { kind: SpanKind.CLIENT, attributes: attemptAttributes(request.url, attempt) },
    async (span) => {
      const headers = { ...request.headers };
      injectTraceContext({ set: (name, value) => (headers[name] = value) });
      const outcome = await postWebhook({ ...request, headers });
      recordOutcome(span, outcome);
      return outcome;
    },
    parent,
  );
}

function attemptAttributes(raw: string, attempt: WebhookAttempt): Attributes {
  return {
    [TraceAttr.httpMethod]: 'POST',
    ...urlAttributes(raw),
    [TraceAttr.webhookDeliveryId]: attempt.deliveryId,
    [TraceAttr.webhookAttempt]: attempt.attempt,
    [TraceAttr.jobId]: attempt.jobId,
  };
}

/**
 * `url.full` without what may be a secret (a token in the query string, credentials, a fragment),
 * `server.address` and `server.port`. None for a URL that does not parse (the policy refuses it).
 */
export function urlAttributes(raw: string): Attributes {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return {};
  }
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return {
    [TraceAttr.urlFull]: `${url.protocol}//${url.host}${url.pathname}`,
    [TraceAttr.serverAddress]: hostOf(url),
    [TraceAttr.serverPort]: port,
  };
}

/** The response's status, and anything but a 2xx as the span's error: `error.type` is the status, or what failed before one. */
function recordOutcome(span: Span, outcome: PostOutcome): void {
  if (outcome.status !== null) span.setAttribute(TraceAttr.httpStatus, outcome.status);
  if (outcome.kind === 'delivered') return;
  span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
  span.setAttribute(TraceAttr.errorType, outcome.errorType ?? String(outcome.status ?? '_OTHER'));
}
