import type { StoredEvent } from './event-codec.js';
import { DEFAULT_PRIORITY, DEFAULT_TENANT, type JobEvent } from './job-events.js';

/**
 * Brings a stored event of any version up to the current one, at the edge where it is read, so the
 * rest of the code only ever handles current versions. Every mapping of an old version lives here.
 *
 * - VideoSubmitted v1 had no owner and no priority: v2 adds `tenant` (v1 jobs belong to the default
 *   tenant) and `priority` (normal).
 * - JobCompleted v1 had no artifacts: v2 adds `artifacts`, empty for v1.
 * - JobFailed v1 could not say that a job was dead-lettered: v2 adds `deadLetter`, null for v1.
 * - JobFailed v2 did not say when a retry would come: v3 adds `retryDelayMs`, null for v1 and v2.
 * - JobCancelRequested v1 could not ask for a deletion: v2 adds `deletion`, false for v1.
 */
export function upcast(event: StoredEvent): JobEvent {
  if (event.type === 'VideoSubmitted' && event.version === 1) {
    return { ...event, version: 2, data: { ...event.data, tenant: DEFAULT_TENANT, priority: DEFAULT_PRIORITY } };
  }
  if (event.type === 'JobCompleted' && event.version === 1) {
    return { ...event, version: 2, data: { ...event.data, artifacts: [] } };
  }
  if (event.type === 'JobFailed' && event.version === 1) {
    return { ...event, version: 3, data: { ...event.data, deadLetter: null, retryDelayMs: null } };
  }
  if (event.type === 'JobFailed' && event.version === 2) {
    return { ...event, version: 3, data: { ...event.data, retryDelayMs: null } };
  }
  if (event.type === 'JobCancelRequested' && event.version === 1) {
    return { ...event, version: 2, data: { ...event.data, deletion: false } };
  }
  return event as JobEvent;
}
