import { describe, expect, it } from '@jest/globals';
import { parseRoute } from './router';

const ID = '0193a0b0-0000-7000-8000-000000000001';

describe('the dashboard route of a path', () => {
  it('opens a job at /jobs/<id>, its id in lower case, with or without a trailing slash', () => {
    expect(parseRoute(`/jobs/${ID}`)).toEqual({ page: 'job', id: ID });
    expect(parseRoute(`/jobs/${ID.toUpperCase()}/`)).toEqual({ page: 'job', id: ID });
  });

  it('opens the webhook endpoints at /webhooks', () => {
    expect(parseRoute('/webhooks')).toEqual({ page: 'webhooks' });
    expect(parseRoute('/webhooks/')).toEqual({ page: 'webhooks' });
  });

  it('shows the jobs at / and at any path it does not know', () => {
    expect(parseRoute('/')).toEqual({ page: 'jobs' });
    expect(parseRoute('/jobs/not-a-job')).toEqual({ page: 'jobs' });
    expect(parseRoute('/webhooks/123')).toEqual({ page: 'jobs' });
    expect(parseRoute('/webhooksx')).toEqual({ page: 'jobs' });
  });
});
