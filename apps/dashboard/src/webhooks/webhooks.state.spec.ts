import { describe, expect, it } from '@jest/globals';
import { createBody, endpointState, lastOutcome, toggleEvent } from './webhooks.state';

describe('the webhooks page, its pure parts', () => {
  it('keeps the chosen events in the order the form lists them, each once', () => {
    expect(toggleEvent(['job.failed'], 'job.started', true)).toEqual(['job.started', 'job.failed']);
    expect(toggleEvent(['job.started', 'job.failed'], 'job.failed', true)).toEqual(['job.started', 'job.failed']);
    expect(toggleEvent(['job.started', 'job.failed'], 'job.started', false)).toEqual(['job.failed']);
  });

  it('sends a form with a URL and at least one event, trimmed; says what is missing otherwise', () => {
    expect(createBody({ url: ' https://hooks.example.com/x ', events: ['job.completed'], description: ' ci ' })).toEqual({
      ok: true,
      body: { url: 'https://hooks.example.com/x', events: ['job.completed'], description: 'ci' },
    });
    expect(createBody({ url: '  ', events: ['job.completed'], description: '' })).toEqual({ ok: false, reason: 'enter the URL to deliver to' });
    expect(createBody({ url: 'https://hooks.example.com/x', events: [], description: '' })).toEqual({ ok: false, reason: 'choose at least one event' });
  });

  it('shows an endpoint as enabled, or disabled with Framewire\'s reason when it gave one', () => {
    expect(endpointState({ enabled: true, disabled_reason: null })).toEqual({ label: 'enabled', reason: null });
    expect(endpointState({ enabled: false, disabled_reason: 'every delivery failed for 3 days' })).toEqual({ label: 'disabled', reason: 'every delivery failed for 3 days' });
    expect(endpointState({ enabled: false, disabled_reason: null })).toEqual({ label: 'disabled', reason: null });
  });

  it('tells a delivery\'s last attempt by its HTTP status, else its error', () => {
    expect(lastOutcome({ last_status_code: 204, last_error: null })).toEqual({ text: 'HTTP 204', failed: false });
    expect(lastOutcome({ last_status_code: 503, last_error: 'HTTP 503' })).toEqual({ text: 'HTTP 503', failed: true });
    expect(lastOutcome({ last_status_code: null, last_error: 'timed out after 10 s' })).toEqual({ text: 'timed out after 10 s', failed: true });
    expect(lastOutcome({ last_status_code: null, last_error: null })).toEqual({ text: '–', failed: false });
  });
});
