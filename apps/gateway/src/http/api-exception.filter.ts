import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger, Optional } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ErrorCode, type ErrorBody } from '@app/contracts';
import { isNatsUnavailableError, NatsAvailability, natsFailureMessage } from '@app/nats';
import { ApiError, statusOf } from './api-error.js';

const CODE_BY_HTTP_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.BadRequest,
  404: ErrorCode.RouteNotFound,
  405: ErrorCode.MethodNotAllowed,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedContentType,
};

/**
 * Every error leaves the gateway as `{"error":{"code","message"}}` with a 4xx or 5xx status and no
 * stack trace. Unexpected errors are logged in full here and reported to the client as INTERNAL.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  protected readonly logger = new Logger('Http');

  /** Tells NATS being unreachable from JetStream failing while NATS answers (absent in unit tests: taken as connected). */
  constructor(@Optional() private readonly nats?: NatsAvailability) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const { status, body, headers } = describeException(exception, req, this.logger, this.nats?.available ?? true);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    // A body we did not read to the end (a rejected upload) cannot be left on the connection.
    if (!req.complete && hasBody(req)) res.setHeader('Connection', 'close');
    res.status(status).json(this.shape(body));
  }

  /** The JSON sent for an error; routes with another documented error shape override it. */
  protected shape(body: ErrorBody): unknown {
    return body;
  }
}

/** The status, body and headers of the error response for `exception`. */
export function describeException(
  exception: unknown,
  req: Request,
  logger: Logger,
  natsConnected = true,
): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (exception instanceof ApiError) {
    return { status: statusOf(exception.code), body: errorBody(exception.code, exception.message), headers: exception.headers };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const code = CODE_BY_HTTP_STATUS[status] ?? (status >= 500 ? ErrorCode.Internal : ErrorCode.BadRequest);
    const message = status === 404 ? `no route ${req.method} ${req.path}` : exception.message;
    return { status, body: errorBody(code, message), headers: {} };
  }
  if (isNatsUnavailableError(exception)) {
    // NATS went away during the request, or JetStream could not serve it (a stream without a leader
    // on a cluster): the client may retry, nothing half-done is visible. The message says which.
    const message = natsFailureMessage(exception, natsConnected);
    logger.warn({ err: exception instanceof Error ? exception.message : String(exception), path: req.path }, message);
    return { status: 503, body: errorBody(ErrorCode.ServiceUnavailable, `${message}; try again shortly`), headers: { 'Retry-After': '1' } };
  }
  logger.error(
    { err: exception instanceof Error ? { message: exception.message, stack: exception.stack } : String(exception), path: req.path },
    'unhandled error',
  );
  return { status: 500, body: errorBody(ErrorCode.Internal, 'internal error'), headers: {} };
}

export function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}
