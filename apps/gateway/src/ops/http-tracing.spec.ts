import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { SpanKind, SpanStatusCode, recordSpansForTests, type RecordedSpans } from '@app/observability';
import { endRequestSpan, requestSpanName, startRequestSpan } from './http-tracing.js';

describe('the span of a gateway request', () => {
  let tracing: RecordedSpans;
  beforeAll(() => {
    tracing = recordSpansForTests();
  });
  afterAll(() => tracing.stop());
  beforeEach(() => tracing.reset());

  const request = (method: string, url: string, headers: Record<string, string> = {}, params: Record<string, string> = {}) =>
    Object.assign({ method, url, originalUrl: url, headers, socket: new Socket(), params }) as unknown as IncomingMessage & { params: Record<string, string> };
  const response = (statusCode: number) => ({ statusCode }) as ServerResponse;

  it('is named by its method and route template, never by the raw path', () => {
    expect(requestSpanName('POST', '/v1/jobs')).toBe('POST /v1/jobs');
    expect(requestSpanName('GET', null)).toBe('GET');
  });

  it("continues the caller's traceparent, hides a media link's token, and names the job of a job's route", () => {
    const jobId = '01936f0e-7a2b-7c3d-8e4f-5a6b7c8d9e0f';
    const req = request('GET', `/v1/jobs/${jobId}/media/secret.token/master.m3u8?token=x`, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'user-agent': 'hls.js' }, { id: jobId });
    const { span } = startRequestSpan(req, 'req-1');
    endRequestSpan(span, req, response(200), '/v1/jobs/:id/media/:token/:name');
    const [recorded] = tracing.ended();
    expect(recorded).toMatchObject({ name: 'GET /v1/jobs/:id/media/:token/:name', kind: SpanKind.SERVER });
    expect(recorded!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(recorded!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(recorded!.attributes).toMatchObject({
      'url.path': `/v1/jobs/${jobId}/media/[redacted]/master.m3u8`,
      'user_agent.original': 'hls.js',
      'framewire.correlation_id': 'req-1',
      'framewire.job_id': jobId,
      'http.response.status_code': 200,
    });
    expect(recorded!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('is an error for a 5xx only: a 4xx is the caller\'s', () => {
    for (const status of [404, 503]) {
      const req = request('POST', '/v1/jobs');
      endRequestSpan(startRequestSpan(req, 'r').span, req, response(status), '/v1/jobs');
    }
    expect(tracing.ended().map((s) => s.status.code)).toEqual([SpanStatusCode.UNSET, SpanStatusCode.ERROR]);
    expect(tracing.ended()[1]!.attributes['error.type']).toBe('503');
  });
});
