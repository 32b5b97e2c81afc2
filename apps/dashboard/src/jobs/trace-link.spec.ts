import { describe, expect, it } from '@jest/globals';
import { traceLink } from './trace-link';

describe("the link to a job's trace", () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';

  it("puts the trace id where the gateway's template says (Jaeger's /trace/<id>, or anywhere in another UI's link)", () => {
    expect(traceLink('http://127.0.0.1:16686/trace/{trace_id}', traceId)).toBe(`http://127.0.0.1:16686/trace/${traceId}`);
    expect(traceLink('https://grafana.example.com/explore?traceId={trace_id}&again={trace_id}', traceId)).toBe(
      `https://grafana.example.com/explore?traceId=${traceId}&again=${traceId}`,
    );
  });

  it('is none without a trace UI or without a trace', () => {
    expect(traceLink(null, traceId)).toBeNull();
    expect(traceLink('http://127.0.0.1:16686/trace/{trace_id}', null)).toBeNull();
  });
});
