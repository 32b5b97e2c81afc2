import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import ipaddr from 'ipaddr.js';
import { addressVerdict, checkUrlShape, guardedLookup, hostOf, WEBHOOK_ADDRESS_FORBIDDEN, type WebhookUrlPolicy } from './url-policy.js';

/**
 * How one attempt ended. `delivered`: a 2xx. `retry`: worth trying again later (no answer, a busy or
 * broken receiver, an address refused today that DNS may change). `failed`: trying again would get
 * the same answer (a redirect, a 4xx the receiver means). An attempt that got no status says what
 * kind of failure it was in `errorType`, a short code for a trace's `error.type` (`timeout`, the
 * connection's error code), where `error` is the sentence for a person.
 */
export type PostOutcome =
  | { kind: 'delivered'; status: number; durationMs: number }
  | { kind: 'retry'; status: number | null; error: string; errorType?: string; retryAfterMs: number | null; durationMs: number }
  | { kind: 'failed'; status: number | null; error: string; errorType?: string; durationMs: number };

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The whole attempt: connecting, the response's headers and its body. */
  timeoutMs: number;
  policy: WebhookUrlPolicy;
  /** Pooled connections (createWebhookAgents); Node's global agents otherwise. */
  agent?: { http: http.Agent; https: https.Agent };
}

type Outcome = PostOutcome extends infer O ? (O extends unknown ? Omit<O, 'durationMs'> : never) : never;

/** The `errorType` of an attempt the URL policy refuses before connecting (a policy changed since the endpoint was registered). */
const WEBHOOK_URL_REFUSED = 'WEBHOOK_URL_REFUSED';

/** Read at most this much of a response, then drop the connection: a receiver owes us no more than a status. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** The part of a response body kept for the error text (enough for 200 characters of it). */
const ERROR_BODY_BYTES = 4 * 1024;
const ERROR_TEXT_CHARS = 200;

/**
 * Keep-alive connections, at most 8 at a time to one receiver (a slow one holds back its own
 * deliveries, not everyone's). An idle connection is closed after 4 s: before the 5 s after which
 * Node's and many servers close theirs, so that a request is rarely sent on a connection the other
 * side is closing.
 */
export function createWebhookAgents(): { http: http.Agent; https: https.Agent } {
  const options = { keepAlive: true, maxSockets: 8, timeout: 4_000 };
  return { http: new http.Agent(options), https: new https.Agent(options) };
}

/**
 * One delivery attempt: a POST of `body` with `headers`, by node:http rather than fetch, for the
 * `lookup` that refuses an address the policy forbids at the moment of connecting. Redirects are
 * never followed (one could lead anywhere, a private address included). It never throws for what the
 * network or the receiver does; every such outcome is a PostOutcome.
 */
export async function postWebhook(request: WebhookRequest): Promise<PostOutcome> {
  const started = performance.now();
  const outcome = await attempt(request);
  return { ...outcome, durationMs: Math.round(performance.now() - started) };
}

function attempt(request: WebhookRequest): Promise<Outcome> {
  const shape = checkUrlShape(request.url, request.policy);
  // Checked when the endpoint was registered: only a policy changed since brings this here.
  if (!shape.ok) return Promise.resolve({ kind: 'failed', status: null, error: shape.reason, errorType: WEBHOOK_URL_REFUSED });
  const url = shape.url;
  const host = hostOf(url);
  // Node calls `lookup` for names only: an address in the URL is judged here, before connecting.
  if (ipaddr.isValid(host)) {
    const verdict = addressVerdict(host, request.policy);
    if (!verdict.ok) return Promise.resolve({ kind: 'retry', status: null, error: verdict.reason, errorType: WEBHOOK_ADDRESS_FORBIDDEN, retryAfterMs: null });
  }
  const secure = url.protocol === 'https:';

  return new Promise((resolve) => {
    let settled = false;
    let response: http.IncomingMessage | null = null;
    const kept: Buffer[] = [];
    let received = 0;
    let req: http.ClientRequest | undefined;
    const timer = setTimeout(() => {
      if (response) settleWithResponse();
      else settle({ kind: 'retry', status: null, error: `no response within ${request.timeoutMs} ms`, errorType: 'timeout', retryAfterMs: null });
      req?.destroy();
    }, request.timeoutMs);

    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    // Once the status is in, it decides: what becomes of the rest of the body does not matter.
    const settleWithResponse = () => settle(classifyResponse(response!, Buffer.concat(kept)));

    try {
      req = (secure ? https : http).request(url, {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
        agent: request.agent ? (secure ? request.agent.https : request.agent.http) : undefined,
        lookup: guardedLookup(request.policy),
      });
    } catch (error) {
      // A header Node refuses (a line break in a value, say): the same each time.
      return settle({ kind: 'failed', status: null, error: (error as Error).message, errorType: networkErrorCode(error as NodeJS.ErrnoException) });
    }

    req.on('error', (error: NodeJS.ErrnoException) => {
      if (response) settleWithResponse();
      else settle({ kind: 'retry', status: null, error: describeNetworkError(error, host), errorType: networkErrorCode(error), retryAfterMs: null });
    });
    req.on('response', (res) => {
      response = res;
      res.on('data', (chunk: Buffer) => {
        if (received < ERROR_BODY_BYTES) kept.push(chunk.subarray(0, ERROR_BODY_BYTES - received));
        received += chunk.length;
        if (received > MAX_RESPONSE_BYTES) {
          settleWithResponse();
          res.destroy();
        }
      });
      res.on('end', settleWithResponse);
      res.on('error', settleWithResponse);
      res.on('close', settleWithResponse);
    });
    req.end(request.body);
  });
}

function classifyResponse(response: http.IncomingMessage, body: Buffer): Outcome {
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status >= 300 && status < 400) {
    const location = printable(response.headers.location ?? '');
    return { kind: 'failed', status, error: location ? `redirect to ${location} not followed` : `HTTP ${status} redirect not followed` };
  }
  const text = printable(body.toString('utf8'));
  const error = text ? `HTTP ${status}: ${text}` : `HTTP ${status}`;
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', status, error, retryAfterMs: parseRetryAfter(response.headers['retry-after']) };
  return { kind: 'failed', status, error };
}

/**
 * A Retry-After header in milliseconds: seconds, or an HTTP date (0 once past). Null when absent or
 * unreadable. Every HTTP-date form starts with the day's name: without that check Date.parse would
 * read "-5" as a year.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | null {
  const trimmed = value?.trim();
  if (!trimmed) return null;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = /^[A-Za-z]{3}/.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Text from a receiver, fit for a log line and a dashboard: controls and line breaks as spaces, 200 characters at most. */
function printable(text: string): string {
  return text
    .replace(/[\p{C}\s\uFFFD]+/gu, ' ')
    .trim()
    .slice(0, ERROR_TEXT_CHARS);
}

const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|CERT_|EPROTO$)|SELF_SIGNED|UNABLE_TO_|_CERT_/;

/** The code of a connection's failure (ECONNREFUSED, ERR_TLS_CERT_ALTNAME_INVALID, ...), if it has one. */
function errnoCode(error: NodeJS.ErrnoException): string | undefined {
  // Node's attempts at each address of a name end in an AggregateError whose own code may be absent.
  return error.code ?? (error as Partial<AggregateError>).errors?.find((inner: NodeJS.ErrnoException) => inner.code)?.code;
}

/** A failure's `errorType`: its code, else the error's name. */
function networkErrorCode(error: NodeJS.ErrnoException): string {
  return errnoCode(error) ?? error.name;
}

/** A connection's failure in a few words: the codes an integrator would otherwise have to look up. */
function describeNetworkError(error: NodeJS.ErrnoException, host: string): string {
  const code = errnoCode(error);
  switch (code) {
    case WEBHOOK_ADDRESS_FORBIDDEN:
      return error.message;
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return error.message === 'socket hang up' ? 'connection closed without a response' : 'connection reset';
    case 'EPIPE':
      return 'connection closed while sending';
    case 'ENOTFOUND':
      return `${host} does not resolve`;
    case 'EAI_AGAIN':
      return `${host} could not be resolved (DNS did not answer)`;
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'ENETUNREACH':
      return 'network unreachable';
  }
  if (code && TLS_ERROR.test(code)) return `TLS error: ${error.message}`;
  return error.message || code || 'connection failed';
}
