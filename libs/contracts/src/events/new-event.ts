import type { EventMeta } from './event-meta.js';
import type { JobEvent, JobEventType } from './job-events.js';

/** The current version of the event of type `T`, as code reads and writes it. */
export type EventOf<T extends JobEventType> = Extract<JobEvent, { type: T }>;

/** What an event of type `T` carries besides its type, version and metadata. */
export type EventData<T extends JobEventType> = EventOf<T>['data'];

/**
 * The one table of the version each event type is written at today, one builder per type: a new
 * version of a type changes `JobEvent`, and then the line here no longer compiles until it is updated.
 */
const builders: { [T in JobEventType]: (meta: EventMeta, data: EventData<T>) => EventOf<T> } = {
  VideoSubmitted: (meta, data) => ({ ...meta, type: 'VideoSubmitted', version: 2, data }),
  JobStarted: (meta, data) => ({ ...meta, type: 'JobStarted', version: 1, data }),
  JobProgressed: (meta, data) => ({ ...meta, type: 'JobProgressed', version: 1, data }),
  JobCompleted: (meta, data) => ({ ...meta, type: 'JobCompleted', version: 2, data }),
  JobFailed: (meta, data) => ({ ...meta, type: 'JobFailed', version: 3, data }),
  JobRedriven: (meta, data) => ({ ...meta, type: 'JobRedriven', version: 1, data }),
  JobCancelRequested: (meta, data) => ({ ...meta, type: 'JobCancelRequested', version: 2, data }),
  JobCancelled: (meta, data) => ({ ...meta, type: 'JobCancelled', version: 1, data }),
  JobDeleted: (meta, data) => ({ ...meta, type: 'JobDeleted', version: 1, data }),
  JobSplit: (meta, data) => ({ ...meta, type: 'JobSplit', version: 1, data }),
  PartRequested: (meta, data) => ({ ...meta, type: 'PartRequested', version: 1, data }),
  JoinRequested: (meta, data) => ({ ...meta, type: 'JoinRequested', version: 1, data }),
  PartStarted: (meta, data) => ({ ...meta, type: 'PartStarted', version: 1, data }),
  PartProgressed: (meta, data) => ({ ...meta, type: 'PartProgressed', version: 1, data }),
  PartCompleted: (meta, data) => ({ ...meta, type: 'PartCompleted', version: 1, data }),
  PartFailed: (meta, data) => ({ ...meta, type: 'PartFailed', version: 1, data }),
};

/**
 * The one way to build an event to append: its type and data, the current version of that type, and
 * the ids and metadata (eventId, jobId, occurredAt, correlationId, causationId). Typed by the type, so
 * a call site needs no cast and cannot name an old version.
 */
export function newEvent<T extends JobEventType>(type: T, data: EventData<T>, meta: EventMeta): EventOf<T> {
  const build: (meta: EventMeta, data: EventData<T>) => EventOf<T> = builders[type];
  return build(meta, data);
}
