import { describe, expect, it } from '@jest/globals';
import { cancelJobRequestSchema, jobCommandRequestSchema } from './job-commands.js';

describe('cancel and redrive requests', () => {
  const request = { job_id: '0193a6f0-0000-7000-8000-000000000001', scope: { kind: 'all' } as const };

  it('refuse a requester or a reason that is not clean text (a lone surrogate, a NUL): it would go into an event', () => {
    for (const text of ['\ud800', 'a\u0000b', `${'x'.repeat(10)}\ude00`]) {
      expect(jobCommandRequestSchema.safeParse({ ...request, requested_by: text }).success).toBe(false);
      expect(cancelJobRequestSchema.safeParse({ ...request, requested_by: null, reason: text }).success).toBe(false);
    }
  });

  it('take any clean text, emoji and right-to-left marks included', () => {
    expect(cancelJobRequestSchema.parse({ ...request, requested_by: 'key_0123', reason: 'stop 😀 \u202e now' })).toMatchObject({ reason: 'stop 😀 \u202e now' });
  });
});
