// The event log: appends and reads (EventStore), the stream's setup, the consumers of the log (a
// durable or ordered one, run by consumeLoop) and the workers' queue over it (WorkQueue).
export { ensureEventStream, eventStreamConfig, EventStreamSetup, type StreamOptions } from './stream-setup.js';
export {
  ConcurrencyError,
  EventStore,
  readJsMsg,
  storedTraceOf,
  storedTraceId,
  type AppendResult,
  type MalformedMessage,
  type ReadItem,
  type StoredJobEvent,
  type StoredTrace,
  type StreamIdentity,
  type StreamState,
  type SubjectEntry,
} from './event-store.js';
export type { GroupCommitLimits } from './group-commit/batch-rules.js';
export type { GroupCommitFigures } from './group-commit/group-commit-publisher.js';
export { EventStoreModule, type EventStoreModuleOptions } from './event-store.module.js';
export { ConsumerFilterError } from './consumer-setup.js';
export { consumeLoop, type ConsumeLoopOptions } from './consume-loop.js';
export { WorkQueue, type PulledMessage, type WorkConsumerSettings, type WorkPuller } from './work-queue/work-queue.js';
