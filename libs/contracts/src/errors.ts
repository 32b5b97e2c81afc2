import { z } from 'zod';

/**
 * Stable error codes shared by every service: every code an HTTP error body, an RPC reply, a job's
 * `error` or a dead letter carries. Clients match on the code, never on the message. The HTTP status
 * of each code is decided in one place, the gateway's STATUS_BY_CODE (apps/gateway/src/http/api-error.ts),
 * which must name every code here.
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
  /** A multipart body that cannot be parsed (bad boundary, broken part headers). */
  InvalidMultipart: 'INVALID_MULTIPART',
  /** A multipart part the route does not take: an unknown field, a second file, too many parts. */
  UnexpectedField: 'UNEXPECTED_FIELD',
  /** A multipart field sent more than once. */
  DuplicateField: 'DUPLICATE_FIELD',
  UnsupportedContentType: 'UNSUPPORTED_CONTENT_TYPE',
  /** The upload's first bytes are not a video container Framewire accepts (MP4/MOV, WebM/Matroska, AVI, MPEG-TS). */
  UnsupportedMedia: 'UNSUPPORTED_MEDIA',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  HeadersTooLarge: 'HEADERS_TOO_LARGE',
  InvalidArtifactName: 'INVALID_ARTIFACT_NAME',
  /** No API key, or one that is malformed, unknown or revoked. */
  Unauthenticated: 'UNAUTHENTICATED',
  /** A valid key that may not do this (an admin-only route). */
  Forbidden: 'FORBIDDEN',
  RateLimited: 'RATE_LIMITED',
  TooManyUploads: 'TOO_MANY_UPLOADS',
  /** The key already holds MAX_LIVE_STREAMS_PER_KEY live streams (job SSE, the live feed, job WebSockets). */
  TooManyStreams: 'TOO_MANY_STREAMS',
  IdempotencyKeyReused: 'IDEMPOTENCY_KEY_REUSED',
  JobNotFound: 'JOB_NOT_FOUND',
  /** No resumable upload with this id for the caller's tenant (another tenant's is the same 404). */
  UploadNotFound: 'UPLOAD_NOT_FOUND',
  /** A resumable upload's expiry (UPLOAD_EXPIRES_MS after its creation) has passed: its bytes are gone. */
  UploadExpired: 'UPLOAD_EXPIRED',
  /** A PATCH whose Upload-Offset is not the upload's offset (tus 409): HEAD it, and resume from there. */
  UploadOffsetMismatch: 'UPLOAD_OFFSET_MISMATCH',
  /** A PATCH body that does not match its Upload-Checksum (tus 460): none of its bytes were kept. */
  ChecksumMismatch: 'CHECKSUM_MISMATCH',
  /** An as-of point that cannot be parsed. */
  InvalidAsOf: 'INVALID_AS_OF',
  /** An as-of event number past the job's last event. */
  EventNotFound: 'EVENT_NOT_FOUND',
  RouteNotFound: 'NOT_FOUND',
  /** The route exists, but not with this method. */
  MethodNotAllowed: 'METHOD_NOT_ALLOWED',
  /** The client went away before its upload was read to the end; nothing was stored. */
  ClientClosedRequest: 'CLIENT_CLOSED_REQUEST',
  /** An SSE stream that broke after its 200 was sent: the `error` event it ends with. */
  StreamFailed: 'STREAM_FAILED',
  ServiceUnavailable: 'SERVICE_UNAVAILABLE',
  Internal: 'INTERNAL',
  InvalidMedia: 'INVALID_MEDIA',
  ToolFailed: 'TOOL_FAILED',
  ToolTimeout: 'TOOL_TIMEOUT',
  JobNotCompleted: 'JOB_NOT_COMPLETED',
  ArtifactNotFound: 'ARTIFACT_NOT_FOUND',
  RangeNotSatisfiable: 'RANGE_NOT_SATISFIABLE',
  InvalidMp4: 'INVALID_MP4',
  JobFailed: 'JOB_FAILED',
  GatewayTimeout: 'TIMEOUT',
  WorkerError: 'WORKER_ERROR',
  /** Cancel of a job that has already ended (completed, failed or cancelled). */
  JobAlreadyEnded: 'JOB_ALREADY_ENDED',
  /** Redrive of a job that has not ended, or that completed: only failed and cancelled jobs run again. */
  JobNotRetryable: 'JOB_NOT_RETRYABLE',
  /** The attempt was stopped on request. */
  Cancelled: 'CANCELLED',
  /** The job's work message was delivered max_deliver times without any attempt settling it. */
  MaxDeliveries: 'MAX_DELIVERIES',
  /** The Object Store or the event stream is at its size limit (NATS_BUCKET_MAX_BYTES, NATS_STREAM_MAX_BYTES): nothing was stored. */
  StorageFull: 'STORAGE_FULL',
  /** The probed video is over a media limit (duration, pixels, frame rate, frame count, streams): permanent. */
  InputTooLarge: 'INPUT_TOO_LARGE',
  /** A tool was killed for time or memory on two attempts in a row: permanent. */
  ResourceLimit: 'RESOURCE_LIMIT',
  /**
   * The job's history holds an event this release cannot read (a newer release wrote it, during a
   * rolling upgrade): nothing is done to the job until a release that can read it does.
   */
  JobHistoryUnreadable: 'JOB_HISTORY_UNREADABLE',
  /** No webhook endpoint with this id in the caller's scope. */
  WebhookNotFound: 'WEBHOOK_NOT_FOUND',
  /** No delivery with this id on that endpoint. */
  WebhookDeliveryNotFound: 'WEBHOOK_DELIVERY_NOT_FOUND',
  /**
   * A webhook URL the policy refuses: not https (unless WEBHOOK_ALLOW_HTTP=1), or a host that resolves
   * to a loopback, private, link-local or metadata address (unless WEBHOOK_ALLOW_PRIVATE_NETWORKS=1;
   * metadata addresses never).
   */
  WebhookUrlForbidden: 'WEBHOOK_URL_FORBIDDEN',
  /** A webhook URL that is not a usable URL at all (no host, credentials in it, a host that does not resolve). */
  InvalidWebhookUrl: 'INVALID_WEBHOOK_URL',
  /** A replay's `from` that is neither a stream sequence nor an ISO time. */
  InvalidReplayFrom: 'INVALID_REPLAY_FROM',
  /** Retrying a delivery of a disabled endpoint: enable it first. */
  WebhookDisabled: 'WEBHOOK_DISABLED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** Whether `code` (from an RPC reply, a stored event) is one of ErrorCode's. */
export function isErrorCode(code: string): code is ErrorCode {
  return ERROR_CODES.has(code);
}

/** The body of every error response: `{"error":{"code","message"}}`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** The runtime schema of ErrorBody, for API documentation and clients that validate. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string().meta({ description: 'Stable error code; match on this, never on the message', example: 'JOB_NOT_FOUND' }),
    message: z.string().meta({ description: 'What went wrong, for a person', example: 'no job 0193…' }),
  }),
});
