import { ErrorCode } from '@app/contracts';

/**
 * A request that cannot be served, with its stable code. The HTTP status comes from the code, in
 * one table, so the same code always means the same status.
 */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The status of each code a route answers with. */
const ANSWERED = {
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.InvalidJobId]: 400,
  [ErrorCode.InvalidCursor]: 400,
  [ErrorCode.InvalidIdempotencyKey]: 400,
  [ErrorCode.InvalidAsOf]: 400,
  [ErrorCode.WebhookUrlForbidden]: 400,
  [ErrorCode.InvalidWebhookUrl]: 400,
  [ErrorCode.InvalidReplayFrom]: 400,
  [ErrorCode.FileRequired]: 400,
  [ErrorCode.EmptyFile]: 400,
  [ErrorCode.UnknownPipeline]: 400,
  [ErrorCode.InvalidParams]: 400,
  [ErrorCode.InvalidArtifactName]: 400,
  [ErrorCode.InvalidMp4]: 400,
  [ErrorCode.InvalidMultipart]: 400,
  [ErrorCode.UnexpectedField]: 400,
  [ErrorCode.DuplicateField]: 400,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.RouteNotFound]: 404,
  [ErrorCode.JobNotFound]: 404,
  [ErrorCode.UploadNotFound]: 404,
  [ErrorCode.EventNotFound]: 404,
  [ErrorCode.ArtifactNotFound]: 404,
  [ErrorCode.WebhookNotFound]: 404,
  [ErrorCode.WebhookDeliveryNotFound]: 404,
  [ErrorCode.MethodNotAllowed]: 405,
  [ErrorCode.JobNotCompleted]: 409,
  [ErrorCode.UploadOffsetMismatch]: 409,
  [ErrorCode.UploadExpired]: 410,
  [ErrorCode.JobAlreadyEnded]: 409,
  [ErrorCode.JobNotRetryable]: 409,
  [ErrorCode.WebhookDisabled]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedContentType]: 415,
  [ErrorCode.UnsupportedMedia]: 415,
  [ErrorCode.RangeNotSatisfiable]: 416,
  [ErrorCode.IdempotencyKeyReused]: 422,
  [ErrorCode.InvalidMedia]: 422,
  /** The seeds' POST /v1/video/process: the job it waited for failed. */
  [ErrorCode.JobFailed]: 422,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.TooManyUploads]: 429,
  [ErrorCode.TooManyStreams]: 429,
  [ErrorCode.HeadersTooLarge]: 431,
  /** tus's checksum extension: 460 Checksum Mismatch. */
  [ErrorCode.ChecksumMismatch]: 460,
  [ErrorCode.ClientClosedRequest]: 499,
  [ErrorCode.Internal]: 500,
  [ErrorCode.ServiceUnavailable]: 503,
  [ErrorCode.GatewayTimeout]: 504,
  [ErrorCode.JobHistoryUnreadable]: 503,
  [ErrorCode.StorageFull]: 507,
} satisfies Partial<Record<ErrorCode, number>>;

/**
 * Codes that are never a response's status: an SSE stream's closing `error` event carries
 * STREAM_FAILED (after its 200), and a job's `error` and its dead letter carry the others (why an
 * attempt failed). A route that answered with one would be at fault, hence 500.
 */
const NEVER_A_STATUS = {
  [ErrorCode.StreamFailed]: 500,
  [ErrorCode.WorkerError]: 500,
  [ErrorCode.ToolFailed]: 500,
  [ErrorCode.ToolTimeout]: 500,
  [ErrorCode.Cancelled]: 500,
  [ErrorCode.MaxDeliveries]: 500,
  [ErrorCode.InputTooLarge]: 500,
  [ErrorCode.ResourceLimit]: 500,
} satisfies Partial<Record<ErrorCode, 500>>;

export const CODES_NEVER_A_STATUS = Object.keys(NEVER_A_STATUS) as ErrorCode[];

/**
 * The HTTP status of every code. A Record over ErrorCode, so a new code does not build until it has
 * its status here (and, through it, its place in the OpenAPI document).
 */
export const STATUS_BY_CODE: Record<ErrorCode, number> = { ...ANSWERED, ...NEVER_A_STATUS };

export function statusOf(code: ErrorCode): number {
  return STATUS_BY_CODE[code];
}
