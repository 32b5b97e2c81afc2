import { describe, expect, it } from '@jest/globals';
import { decodeEvent } from './event-codec.js';

const v1Completed = {
  eventId: '0193a6f0-0000-7000-8000-000000000001',
  jobId: '0193a6f0-0000-7000-8000-000000000002',
  type: 'JobCompleted',
  version: 1,
  occurredAt: '2026-11-24T10:00:00.000Z',
  correlationId: 'req-1',
  causationId: '0193a6f0-0000-7000-8000-000000000003',
  data: { attempt: 1, durationMs: 12, result: { width: 320 }, resultRef: null },
};

describe('upcasting', () => {
  it('reads a JobCompleted v1 from the log as v2 with no artifacts', () => {
    const decoded = decodeEvent(new TextEncoder().encode(JSON.stringify(v1Completed)));
    expect(decoded).toEqual({ ok: true, event: { ...v1Completed, version: 2, data: { ...v1Completed.data, artifacts: [] } } });
  });

  it('rejects a v2 JobCompleted without artifacts, and an artifact name that climbs out of its folder', () => {
    const noArtifacts = { ...v1Completed, version: 2 };
    expect(decodeEvent(new TextEncoder().encode(JSON.stringify(noArtifacts))).ok).toBe(false);
    const artifact = { name: '../../etc/passwd', bucket: 'b', objectName: 'x', size: 1, contentType: 'text/plain', sha256: 'a'.repeat(64) };
    const climbing = { ...v1Completed, version: 2, data: { ...v1Completed.data, artifacts: [artifact] } };
    expect(decodeEvent(new TextEncoder().encode(JSON.stringify(climbing)))).toMatchObject({ ok: false, reason: expect.stringContaining('artifacts.0.name') });
  });
});
