import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { NatsRecordBuilder, type NatsContext, type NatsRecord } from '@nestjs/microservices';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { Observable } from 'rxjs';
import { currentCorrelation, runWithCorrelation } from '@app/observability';
import { EventHeader } from '@app/contracts';

/**
 * A request/reply payload that carries the caller's correlation id in the `Fw-Correlation-Id` NATS
 * header (the same header events carry), so the service that answers logs under the same id.
 */
export function withCorrelation<T>(payload: T, correlationId = currentCorrelation()?.correlationId): T | NatsRecord<T> {
  if (!correlationId) return payload;
  const h = natsHeaders();
  h.set(EventHeader.CorrelationId, correlationId);
  return new NatsRecordBuilder(payload).setHeaders(h).build();
}

/**
 * The answering side: a message handler runs inside the correlation context of the request's
 * `Fw-Correlation-Id` header, so every log line it writes carries that id.
 */
@Injectable()
export class RpcCorrelationInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const nats = context.switchToRpc().getContext<NatsContext>();
    const header = (nats?.getHeaders?.() as { get(name: string): string } | undefined)?.get(EventHeader.CorrelationId);
    if (!header) return next.handle();
    return new Observable((subscriber) => runWithCorrelation({ correlationId: header }, () => next.handle().subscribe(subscriber)));
  }
}
