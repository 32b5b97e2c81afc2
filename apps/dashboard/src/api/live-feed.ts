import { EventSource } from 'eventsource';
import type { JobChange } from '@app/contracts';
import { errorOf } from './api-client';
import { authHeaders } from './api-key';

export type FeedState = 'connecting' | 'live' | 'reconnecting';

export interface FeedHandlers {
  /** The feed is live: load the snapshot now, and nothing stored from here on is missed. */
  onReady(): void;
  onChange(change: JobChange): void;
  onState(state: FeedState, detail?: string): void;
}

const RETRY_MS = 3000;

/**
 * Follows GET /v1/stream/jobs. The browser's EventSource cannot send an Authorization header, so
 * this reads the stream with fetch (the `eventsource` package, with a fetch that adds the key).
 * After any break it reconnects, and each `ready` tells the page to load its snapshot again.
 */
export function followJobs(handlers: FeedHandlers): () => void {
  let source: EventSource | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  const open = () => {
    handlers.onState(source ? 'reconnecting' : 'connecting');
    const es = new EventSource('/v1/stream/jobs', {
      fetch: async (input, init) => {
        const res = await fetch(input, { ...init, headers: { ...(init?.headers ?? {}), ...authHeaders() } });
        // A refusal (401, 503) closes the EventSource; say why before it does.
        if (!res.ok) handlers.onState('reconnecting', (await errorOf(res.clone())).message);
        return res;
      },
    });
    source = es;
    es.addEventListener('ready', () => {
      handlers.onState('live');
      handlers.onReady();
    });
    es.addEventListener('job', (event) => {
      try {
        handlers.onChange(JSON.parse(event.data) as JobChange);
      } catch {
        // A frame we cannot read is skipped; the next snapshot repairs the view.
      }
    });
    es.onerror = () => {
      if (stopped) return;
      handlers.onState('reconnecting');
      if (es.readyState === EventSource.CLOSED) {
        retry = setTimeout(() => {
          if (!stopped) open();
        }, RETRY_MS);
      }
    };
  };
  open();
  return () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    source?.close();
  };
}
