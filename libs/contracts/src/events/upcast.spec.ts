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

const v1Submitted = {
  eventId: '0193a6f0-0000-7000-8000-000000000004',
  jobId: '0193a6f0-0000-7000-8000-000000000002',
  type: 'VideoSubmitted',
  version: 1,
  occurredAt: '2026-11-24T09:59:00.000Z',
  correlationId: 'req-1',
  causationId: null,
  data: {
    pipeline: 'probe',
    params: {},
    video: { bucket: 'b', objectName: 'uploads/x/1', filename: 'clip.mp4', size: 10, contentType: 'video/mp4', sha256: 'a'.repeat(64) },
  },
};

describe('upcasting', () => {
  it('reads a VideoSubmitted v1 as v2 owned by the default tenant at normal priority', () => {
    const decoded = decodeEvent(new TextEncoder().encode(JSON.stringify(v1Submitted)));
    expect(decoded).toEqual({
      ok: true,
      event: { ...v1Submitted, version: 2, data: { ...v1Submitted.data, tenant: 'default', priority: 'normal' } },
    });
  });

  it('rejects a VideoSubmitted v2 without a tenant, or with a priority it does not know', () => {
    const v2 = { ...v1Submitted, version: 2, data: { ...v1Submitted.data, priority: 'normal' } };
    expect(decodeEvent(new TextEncoder().encode(JSON.stringify(v2)))).toMatchObject({ ok: false, reason: expect.stringContaining('data.tenant') });
    const urgent = { ...v2, data: { ...v2.data, tenant: 'acme', priority: 'urgent' } };
    expect(decodeEvent(new TextEncoder().encode(JSON.stringify(urgent)))).toMatchObject({ ok: false, reason: expect.stringContaining('data.priority') });
  });

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

  it('reads a JobFailed v1 as v3 that is not a dead letter and names no retry delay', () => {
    const v1Failed = { ...v1Completed, type: 'JobFailed', data: { attempt: 2, final: true, error: { code: 'TOOL_FAILED', message: 'boom' } } };
    const decoded = decodeEvent(new TextEncoder().encode(JSON.stringify(v1Failed)));
    expect(decoded).toEqual({ ok: true, event: { ...v1Failed, version: 3, data: { ...v1Failed.data, deadLetter: null, retryDelayMs: null } } });
  });

  it('reads a JobFailed v3 with its retry delay, and rejects a negative one', () => {
    const v3Failed = { ...v1Completed, type: 'JobFailed', version: 3, data: { attempt: 1, final: false, error: { code: 'TOOL_FAILED', message: 'x' }, deadLetter: null, retryDelayMs: 1200 } };
    expect(decodeEvent(new TextEncoder().encode(JSON.stringify(v3Failed)))).toEqual({ ok: true, event: v3Failed });
    const negative = { ...v3Failed, data: { ...v3Failed.data, retryDelayMs: -1 } };
    expect(decodeEvent(new TextEncoder().encode(JSON.stringify(negative)))).toMatchObject({ ok: false, reason: expect.stringContaining('data.retryDelayMs') });
  });

  it('reads a JobFailed v2 with its dead letter, and rejects one whose dead letter has no delivery count', () => {
    const deadLetter = { reason: 'MAX_DELIVERIES', consumer: 'workers', deliveries: 10, streamSeq: 7 };
    const v2Failed = { ...v1Completed, type: 'JobFailed', version: 2, data: { attempt: 3, final: true, error: { code: 'MAX_DELIVERIES', message: 'x' }, deadLetter } };
    expect(decodeEvent(new TextEncoder().encode(JSON.stringify(v2Failed)))).toEqual({ ok: true, event: { ...v2Failed, version: 3, data: { ...v2Failed.data, retryDelayMs: null } } });
    const incomplete = { ...v2Failed, data: { ...v2Failed.data, deadLetter: { ...deadLetter, deliveries: undefined } } };
    expect(decodeEvent(new TextEncoder().encode(JSON.stringify(incomplete)))).toMatchObject({ ok: false, reason: expect.stringContaining('data.deadLetter.deliveries') });
  });
});
