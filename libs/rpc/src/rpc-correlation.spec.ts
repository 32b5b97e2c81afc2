import { describe, expect, it } from '@jest/globals';
import { NatsRecord } from '@nestjs/microservices';
import { runWithCorrelation } from '@app/observability';
import { withCorrelation } from './rpc-correlation.js';

describe('correlation ids on request/reply', () => {
  it('puts the running correlation id in the Fw-Correlation-Id header', () => {
    const record = runWithCorrelation({ correlationId: 'req-42' }, () => withCorrelation({ job_id: 'x' }));
    expect(record).toBeInstanceOf(NatsRecord);
    const { data, headers } = record as NatsRecord<{ job_id: string }, { get(name: string): string }>;
    expect(data).toEqual({ job_id: 'x' });
    expect(headers!.get('Fw-Correlation-Id')).toBe('req-42');
  });

  it('sends the payload as it is outside any request', () => {
    expect(withCorrelation({ job_id: 'x' })).toEqual({ job_id: 'x' });
  });
});
