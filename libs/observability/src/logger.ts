import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';
import { currentCorrelation } from './correlation.js';
import { prettyLogLine, resolveLogFormat, useColour, type LogFormat } from './log-format.js';
import { traceLogFields, tracingActive } from './tracing.js';

export type { PinoLogger };

/** The HTTP header that carries a correlation id into the gateway and back out. */
export const CORRELATION_HEADER = 'x-request-id';
const CORRELATION_ID_PATTERN = /^[\w.:@-]{1,128}$/;

/** Paths that probes and scrapers hit every few seconds: not worth a log line each. */
const QUIET_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

/** A caller's request id if it is sane, else a fresh one. */
export function correlationIdFrom(value: unknown): string {
  return typeof value === 'string' && CORRELATION_ID_PATTERN.test(value) ? value : randomUUID();
}

/**
 * The correlation id of an HTTP request: the one already given to it in this process, else the
 * caller's `X-Request-Id` when sane, else a fresh one. Echoed back in the response's X-Request-Id.
 */
export function requestCorrelationId(req: IncomingMessage & { id?: unknown }, res?: ServerResponse): string {
  const id = typeof req.id === 'string' && req.id ? req.id : correlationIdFrom(req.headers[CORRELATION_HEADER]);
  req.id = id;
  if (res && !res.headersSent) res.setHeader(CORRELATION_HEADER, id);
  return id;
}

/**
 * JSON logs on stdout, one line per record, with the service's name on every line. A line written
 * inside runWithCorrelation() also carries that context's correlationId (and jobId), so one grep
 * for a request id finds every line of every service that worked on it. With tracing on, a line
 * written inside a span also carries its `trace_id` and `span_id`.
 *
 * Lines are written asynchronously: a record is formatted at once, but the write to stdout happens
 * off the caller's path (as soon as the previous write has finished), so a job's log lines never hold
 * up the job. Whatever is still buffered is flushed synchronously when the process exits, by any
 * path other than SIGKILL.
 *
 * `format` (LOG_FORMAT) `pretty` writes each record as one readable line instead (log-format.ts);
 * unset, that is the choice on a terminal, and JSON anywhere else. A test may hand it another
 * `destination` to read the lines back.
 */
export function createLogger(service: string, level: LevelWithSilent, format?: LogFormat, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false })): PinoLogger {
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: () => (tracingActive() ? { ...currentCorrelation(), ...traceLogFields() } : (currentCorrelation() ?? {})),
    },
    resolveLogFormat(format) === 'pretty' ? prettyDestination(destination, service) : destination,
  );
}

/** A destination that turns each JSON record into its pretty line; flushed at exit like pino's own. */
function prettyDestination(destination: pino.DestinationStream, service: string): { write(line: string): void } {
  const colour = useColour();
  const flushable = destination as pino.DestinationStream & { flushSync?: () => void };
  process.once('exit', () => flushable.flushSync?.());
  return { write: (line: string) => void destination.write(`${prettyLogLine(line.trimEnd(), { colour, service })}\n`) };
}

/** Query parameters that carry credentials (a media link's token, keys some clients put in URLs). */
const SECRET_PARAMS = /([?&](?:token|access_token|api_key|apikey|key)=)[^&#]*/gi;

/** A media link in the path (`/v1/jobs/{id}/media/{token}/{name}`). */
const SECRET_PATH = /^(\/v1\/jobs\/[^/?#]+\/media\/)[^/?#]+/i;

/** A request URL fit for the logs: credential-bearing query parameters and path segments are replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_PATH, '$1[redacted]').replace(SECRET_PARAMS, '$1[redacted]');
}

@Module({})
export class LoggingModule {
  /** Nest's logger backed by `logger`; for an HTTP app it also logs every request with its correlation id. */
  static forRoot(logger: PinoLogger): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            logger,
            genReqId: (req: IncomingMessage, res: ServerResponse) => requestCorrelationId(req, res),
            autoLogging: { ignore: (req: IncomingMessage) => QUIET_PATHS.has((req.url ?? '').split('?')[0]!) },
            serializers: {
              req: (req: { method: string; url: string }) => ({ method: req.method, url: redactUrl(req.url ?? '') }),
              res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
            },
            quietReqLogger: true,
          },
        }),
      ],
      exports: [LoggerModule],
    };
  }
}
