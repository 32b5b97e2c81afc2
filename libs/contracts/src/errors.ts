/**
 * Stable error codes shared by every service. Clients match on the code, never on the message.
 * The HTTP status for each code is decided in one place, the gateway's exception filter.
 */
export const ErrorCode = {
  BadRequest: 'BAD_REQUEST',
  ValidationFailed: 'VALIDATION_FAILED',
  InvalidJobId: 'INVALID_JOB_ID',
  InvalidCursor: 'INVALID_CURSOR',
  InvalidIdempotencyKey: 'INVALID_IDEMPOTENCY_KEY',
  FileRequired: 'FILE_REQUIRED',
  EmptyFile: 'EMPTY_FILE',
  UnknownPipeline: 'UNKNOWN_PIPELINE',
  InvalidParams: 'INVALID_PARAMS',
  UnsupportedContentType: 'UNSUPPORTED_CONTENT_TYPE',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  IdempotencyKeyReused: 'IDEMPOTENCY_KEY_REUSED',
  JobNotFound: 'JOB_NOT_FOUND',
  /** An as-of point that cannot be parsed. */
  InvalidAsOf: 'INVALID_AS_OF',
  /** An as-of event number past the job's last event. */
  EventNotFound: 'EVENT_NOT_FOUND',
  RouteNotFound: 'NOT_FOUND',
  ServiceUnavailable: 'SERVICE_UNAVAILABLE',
  Internal: 'INTERNAL',
  InvalidMedia: 'INVALID_MEDIA',
  ToolFailed: 'TOOL_FAILED',
  WorkerError: 'WORKER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The body of every error response: `{"error":{"code","message"}}`. */
export interface ErrorBody {
  error: { code: string; message: string };
}
