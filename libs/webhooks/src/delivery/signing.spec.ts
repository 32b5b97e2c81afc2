import { describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, signatureHeader, webhookHeaders } from './signing.js';

// Verified with the spec's reference library, not with our own code: a receiver uses that one.
const body = JSON.stringify({ type: 'job.completed', data: { jobId: 'job-1', note: 'naïve ✓' } });
const now = () => Math.floor(Date.now() / 1000);

describe('newWebhookSecret', () => {
  it('is whsec_ and the base64 of 32 bytes, and differs each time', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
  });
});

describe('webhookHeaders', () => {
  it('carries a signature the reference library verifies', () => {
    const secret = newWebhookSecret();
    const headers = webhookHeaders({ msgId: 'msg_1', timestampSeconds: now(), body, secrets: [secret] });
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(headers).toMatchObject({ 'content-type': 'application/json', 'user-agent': 'Framewire-Webhooks/1', 'webhook-id': 'msg_1' });
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
  });

  it('during a rotation, signs with both secrets: each alone verifies', () => {
    const [old, fresh] = [newWebhookSecret(), newWebhookSecret()];
    const headers = webhookHeaders({ msgId: 'msg_2', timestampSeconds: now(), body, secrets: [old, fresh] });
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(old).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(fresh).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
  });

  it('does not verify once the body or the timestamp is changed', () => {
    const secret = newWebhookSecret();
    const timestampSeconds = now();
    const headers = webhookHeaders({ msgId: 'msg_3', timestampSeconds, body, secrets: [secret] });
    expect(() => new Webhook(secret).verify(body.replace('job-1', 'job-2'), headers)).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-timestamp': String(timestampSeconds - 1) })).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_4' })).toThrow();
  });
});

describe('signatureHeader', () => {
  it('refuses an empty list and a secret without the prefix', () => {
    expect(() => signatureHeader([], 'msg_1', now(), body)).toThrow();
    expect(() => signatureHeader([newWebhookSecret().slice('whsec_'.length)], 'msg_1', now(), body)).toThrow(/whsec_/);
  });
});
