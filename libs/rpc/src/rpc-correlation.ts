import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { NatsRecordBuilder, type NatsContext, type NatsRecord } from '@nestjs/microservices';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { Observable } from 'rxjs';
import {
  currentCorrelation,
  injectTraceContext,
  recordError,
  runWithCorrelation,
  SpanKind,
  startSpan,
  traceApi,
  traceContext,
  traceContextFrom,
  TraceAttr,
  tracingActive,
  type HeaderReader,
} from '@app/observability';
import { EventHeader } from '@app/contracts';

/**
 * A request/reply payload that carries the caller's correlation id in the `Fw-Correlation-Id` NATS
 * header (the same header events carry), so the service that answers logs under the same id; with
 * tracing on, also the caller's trace context, so what the answer appends (a cancel, a redrive)
 * joins the caller's trace.
 */
export function withCorrelation<T>(payload: T, correlationId = currentCorrelation()?.correlationId): T | NatsRecord<T> {
  const traced = tracingActive();
  if (!correlationId && !traced) return payload;
  const h = natsHeaders();
  if (correlationId) h.set(EventHeader.CorrelationId, correlationId);
  if (traced) injectTraceContext(h);
  return new NatsRecordBuilder(payload).setHeaders(h).build();
}

/**
 * The answering side: a message handler runs inside the correlation context of the request's
 * `Fw-Correlation-Id` header, so every log line it writes carries that id; and, with tracing on and
 * a `traceparent` on the request, inside a SERVER span of the caller's trace.
 */
@Injectable()
export class RpcCorrelationInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const nats = context.switchToRpc().getContext<NatsContext>();
    const headers = nats?.getHeaders?.() as HeaderReader | undefined;
    const header = headers?.get(EventHeader.CorrelationId);
    const handled = tracingActive() && headers?.get('traceparent') ? tracedHandling(nats.getSubject(), headers, header, next) : next.handle();
    if (!header) return handled;
    return new Observable((subscriber) => runWithCorrelation({ correlationId: header }, () => handled.subscribe(subscriber)));
  }
}

/** The handling of a traced request, in a span (`rpc <subject>`) of the caller's trace that ends with the answer. */
function tracedHandling(subject: string, headers: HeaderReader, correlationId: string | null | undefined, next: CallHandler): Observable<unknown> {
  return new Observable((subscriber) => {
    const parent = traceContextFrom(headers);
    const span = startSpan(`rpc ${subject}`, {
      kind: SpanKind.SERVER,
      attributes: { 'rpc.system': 'nats', [TraceAttr.messagingDestination]: subject, ...(correlationId ? { [TraceAttr.correlationId]: correlationId } : {}) },
    }, parent);
    const subscription = traceContext.with(traceApi.setSpan(parent, span), () =>
      next.handle().subscribe({
        next: (value) => subscriber.next(value),
        error: (error: unknown) => {
          recordError(span, error);
          span.end();
          subscriber.error(error);
        },
        complete: () => {
          span.end();
          subscriber.complete();
        },
      }),
    );
    return () => subscription.unsubscribe();
  });
}
