import type { StoredEvent } from './event-codec.js';
import type { JobEvent } from './job-events.js';

/**
 * Brings a stored event of any version up to the current one, at the edge where it is read, so the
 * rest of the code only ever handles current versions. Every mapping of an old version lives here.
 *
 * - JobCompleted v1 had no artifacts: v2 adds `artifacts`, empty for v1.
 */
export function upcast(event: StoredEvent): JobEvent {
  if (event.type === 'JobCompleted' && event.version === 1) {
    return { ...event, version: 2, data: { ...event.data, artifacts: [] } };
  }
  return event as JobEvent;
}
