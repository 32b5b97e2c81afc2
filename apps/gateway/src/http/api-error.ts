import { ErrorCode } from '@app/contracts';

/**
 * A request that cannot be served, with its stable code. The HTTP status comes from the code, in
 * one table, so the same code always means the same status.
 */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const STATUS_BY_CODE: Record<string, number> = {
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.InvalidJobId]: 400,
  [ErrorCode.InvalidCursor]: 400,
  [ErrorCode.InvalidIdempotencyKey]: 400,
  [ErrorCode.InvalidAsOf]: 400,
  [ErrorCode.FileRequired]: 400,
  [ErrorCode.EmptyFile]: 400,
  [ErrorCode.UnknownPipeline]: 400,
  [ErrorCode.InvalidParams]: 400,
  [ErrorCode.InvalidArtifactName]: 400,
  [ErrorCode.InvalidMp4]: 400,
  INVALID_MULTIPART: 400,
  UNEXPECTED_FIELD: 400,
  DUPLICATE_FIELD: 400,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.RouteNotFound]: 404,
  [ErrorCode.JobNotFound]: 404,
  [ErrorCode.EventNotFound]: 404,
  [ErrorCode.ArtifactNotFound]: 404,
  [ErrorCode.JobNotCompleted]: 409,
  [ErrorCode.JobAlreadyEnded]: 409,
  [ErrorCode.JobNotRetryable]: 409,
  [ErrorCode.RangeNotSatisfiable]: 416,
  [ErrorCode.GatewayTimeout]: 504,
  METHOD_NOT_ALLOWED: 405,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedContentType]: 415,
  [ErrorCode.UnsupportedMedia]: 415,
  [ErrorCode.IdempotencyKeyReused]: 422,
  [ErrorCode.InvalidMedia]: 422,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.TooManyUploads]: 429,
  [ErrorCode.TooManyStreams]: 429,
  [ErrorCode.HeadersTooLarge]: 431,
  CLIENT_CLOSED_REQUEST: 499,
  [ErrorCode.Internal]: 500,
  [ErrorCode.ServiceUnavailable]: 503,
  [ErrorCode.JobHistoryUnreadable]: 503,
  [ErrorCode.StorageFull]: 507,
};

export function statusOf(code: string): number {
  return STATUS_BY_CODE[code] ?? 500;
}
