import { describe, expect, it } from '@jest/globals';
import { InvalidArgumentError } from 'commander';
import type { WebhookDeliveryView, WebhookEndpointView } from '@app/contracts';
import {
  deliveriesLimitArgument,
  deliveriesTable,
  endpointLines,
  endpointsTable,
  eventsArgument,
  replayFromArgument,
  replayLines,
  tenantArgument,
  updateBody,
  webhookIdArgument,
} from './webhooks.command.js';

const ID = '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const JOB = '0193a1b2-0000-7e5f-8a9b-0c1d2e3f4a5b';

function endpoint(over: Partial<WebhookEndpointView> = {}): WebhookEndpointView {
  return {
    id: ID,
    tenant: 'acme',
    url: 'https://hooks.example.com/framewire',
    events: ['job.completed', 'job.failed'],
    description: '',
    enabled: true,
    disabled_reason: null,
    failing_since: null,
    previous_secret_expires_at: null,
    created_at: '2026-12-05T10:00:00.000Z',
    updated_at: '2026-12-05T10:00:00.000Z',
    ...over,
  };
}

function delivery(over: Partial<WebhookDeliveryView> = {}): WebhookDeliveryView {
  return {
    id: '0193a1b2-1111-7e5f-8a9b-0c1d2e3f4a5b',
    endpoint_id: ID,
    event_type: 'job.completed',
    event_id: '0193a1b2-2222-7e5f-8a9b-0c1d2e3f4a5b',
    job_id: JOB,
    stream_seq: 41,
    status: 'delivered',
    attempts: 1,
    last_status_code: 200,
    last_error: null,
    next_attempt_at: null,
    delivered_at: '2026-12-05T10:00:01.000Z',
    created_at: '2026-12-05T10:00:00.500Z',
    ...over,
  };
}

describe('the arguments of framewire webhooks, checked before anything is sent', () => {
  it('takes --events as a comma-separated list of webhook event types, each once', () => {
    expect(eventsArgument('job.completed,job.failed')).toEqual(['job.completed', 'job.failed']);
    expect(eventsArgument(' job.started , job.started,')).toEqual(['job.started']);
  });

  it('refuses an unknown event, or none, as a usage error that names the known ones', () => {
    expect(() => eventsArgument('job.completed,job.done')).toThrow(InvalidArgumentError);
    expect(() => eventsArgument('job.completed,job.done')).toThrow(/unknown event "job.done".*job.started, job.progress, job.completed, job.failed, job.cancelled/);
    expect(() => eventsArgument(' , ')).toThrow(InvalidArgumentError);
  });

  it('takes a webhook id only as a UUID, a tenant only as the API spells one, and --limit from 1 to 100', () => {
    expect(webhookIdArgument(ID.toUpperCase())).toBe(ID);
    expect(() => webhookIdArgument('hook-1')).toThrow(InvalidArgumentError);
    expect(tenantArgument('acme-eu')).toBe('acme-eu');
    expect(() => tenantArgument('Acme EU')).toThrow(InvalidArgumentError);
    expect(deliveriesLimitArgument('100')).toBe(100);
    expect(() => deliveriesLimitArgument('101')).toThrow(InvalidArgumentError);
    expect(() => deliveriesLimitArgument('0')).toThrow(InvalidArgumentError);
  });

  it('takes --from as a stream sequence or an ISO time with a zone, as the jobs service reads it', () => {
    expect(replayFromArgument('1234')).toBe('1234');
    expect(replayFromArgument(' seq:12 ')).toBe('seq:12');
    expect(replayFromArgument('2026-12-05T10:00:00Z')).toBe('2026-12-05T10:00:00Z');
    expect(() => replayFromArgument('2026-12-05 10:00')).toThrow(/neither a stream sequence/);
    expect(() => replayFromArgument('yesterday')).toThrow(InvalidArgumentError);
  });

  it('makes update\'s PATCH body of the options given, and nothing of none', () => {
    expect(updateBody({ webhookUrl: 'https://new.example.com/', events: ['job.failed'] })).toEqual({ url: 'https://new.example.com/', events: ['job.failed'] });
    expect(updateBody({ description: '' })).toEqual({ description: '' });
    expect(updateBody({ enable: true })).toEqual({ enabled: true });
    expect(updateBody({ disable: true })).toEqual({ enabled: false });
    expect(updateBody({})).toBeNull();
  });
});

describe('what framewire webhooks prints', () => {
  it('lists endpoints with their state: why Framewire disabled one, since when one fails', () => {
    const text = endpointsTable([
      endpoint(),
      endpoint({ id: '0193a1b2-9999-7e5f-8a9b-0c1d2e3f4a5b', enabled: false, disabled_reason: 'failing for 3 days', failing_since: '2026-12-02T09:00:00.000Z' }),
    ]);
    const [header, first, second] = text.split('\n');
    expect(header).toMatch(/^WEBHOOK\s+TENANT\s+STATE\s+EVENTS\s+FAILING SINCE\s+URL\s+DESCRIPTION$/);
    expect(first).toContain('enabled');
    expect(first).toContain('job.completed,job.failed');
    expect(second).toContain('disabled (failing for 3 days)');
    expect(second).toContain('2026-12-02T09:00:00.000Z');
    // Columns line up: each row's URL starts where the header's does.
    expect(first!.indexOf('https://')).toBe(header!.indexOf('URL'));
    expect(second!.indexOf('https://')).toBe(header!.indexOf('URL'));
  });

  it('shows one endpoint as aligned field: value lines, with a dash for what is not set', () => {
    const lines = endpointLines(endpoint({ enabled: false })).split('\n');
    expect(lines).toContain(`webhook:                 ${ID}`);
    expect(lines).toContain('state:                   disabled');
    expect(lines).toContain('description:             -');
  });

  it('lists deliveries with the columns asked for, LAST being the status code or else the error', () => {
    const text = deliveriesTable([
      delivery(),
      delivery({ status: 'pending', attempts: 3, last_status_code: null, last_error: 'connect ECONNREFUSED 203.0.113.7:443', next_attempt_at: '2026-12-05T10:05:00.000Z', delivered_at: null }),
      delivery({ status: 'failed', attempts: 2, last_status_code: 500, last_error: 'x'.repeat(80), delivered_at: null }),
    ]);
    const [header, ok, pending, failed] = text.split('\n');
    expect(header).toMatch(/^DELIVERY\s+EVENT\s+JOB\s+STATUS\s+ATTEMPTS\s+LAST\s+NEXT ATTEMPT\s+DELIVERED AT$/);
    expect(ok!.split(/\s{2,}/)).toEqual(['0193a1b2-1111-7e5f-8a9b-0c1d2e3f4a5b', 'job.completed', JOB, 'delivered', '1', '200', '-', '2026-12-05T10:00:01.000Z']);
    expect(pending!.split(/\s{2,}/).slice(3)).toEqual(['pending', '3', 'connect ECONNREFUSED 203.0.113.7:443', '2026-12-05T10:05:00.000Z', '-']);
    // A long error is cut short, so that the columns after it stay readable.
    expect(failed!.split(/\s{2,}/)[5]).toBe(`500 ${'x'.repeat(39)}…`);
  });

  it('says what a replay queued and, when its scan stopped short, where to go on from', () => {
    expect(replayLines(ID, { queued: 3, from_seq: 10, to_seq: 20, truncated: false })).toBe('queued 3 deliveries, from the events at stream sequences 10 to 20');
    expect(replayLines(ID, { queued: 1, from_seq: 10, to_seq: 20, truncated: false })).toMatch(/^queued 1 delivery,/);
    expect(replayLines(ID, { queued: 500, from_seq: 10, to_seq: 5009, truncated: true }).split('\n')[1]).toContain(`framewire webhooks replay ${ID} --from seq:5010`);
  });
});
