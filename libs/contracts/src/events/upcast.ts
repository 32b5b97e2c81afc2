import type { StoredEvent } from './event-codec.js';
import type { JobEvent } from './job-events.js';

/**
 * Brings a stored event of any version up to the current one. Every event type has a single
 * version so far, so this is the identity; when a v2 appears, its v1 is mapped here and nowhere else.
 */
export function upcast(event: StoredEvent): JobEvent {
  return event;
}
