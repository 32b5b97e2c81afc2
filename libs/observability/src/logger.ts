import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type { PinoLogger };

/** The header that carries a correlation id across HTTP and NATS. */
export const CORRELATION_HEADER = 'x-request-id';
const CORRELATION_ID_PATTERN = /^[\w.:@-]{1,128}$/;

/** A caller's request id if it is sane, else a fresh one. */
export function correlationIdFrom(value: unknown): string {
  return typeof value === 'string' && CORRELATION_ID_PATTERN.test(value) ? value : randomUUID();
}

/** JSON logs on stdout, one line per record, with the service's name on every line. */
export function createLogger(service: string, level: LevelWithSilent): PinoLogger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
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
            genReqId: (req: IncomingMessage, res: ServerResponse) => {
              const id = correlationIdFrom(req.headers[CORRELATION_HEADER]);
              res.setHeader(CORRELATION_HEADER, id);
              return id;
            },
            customProps: (req: IncomingMessage) => ({ correlationId: (req as IncomingMessage & { id?: string }).id }),
            autoLogging: { ignore: (req: IncomingMessage) => req.url === '/health/live' },
            serializers: {
              req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
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
