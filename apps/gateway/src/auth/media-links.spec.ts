import { describe, expect, it } from '@jest/globals';
import type { GatewayConfig } from '@app/config';
import type { Principal } from '@app/contracts';
import { Clock } from '@app/runtime';
import { ApiError } from '../http/api-error.js';
import { MediaLinks } from './media-links.js';

class FakeClock extends Clock {
  constructor(public at = Date.parse('2026-01-01T00:00:00Z')) {
    super();
  }
  now(): Date {
    return new Date(this.at);
  }
}

const JOB = '0193a0b0-0000-7000-8000-000000000001';
const OTHER = '0193a0b0-0000-7000-8000-000000000002';
const acme: Principal = { key_id: 'key_0123456789ab', tenant: 'acme', admin: false, name: 'ci' };
const config = (over: Partial<GatewayConfig> = {}) => ({ MEDIA_LINK_TTL_MS: 60_000, MEDIA_LINK_SECRET: 's'.repeat(32), ...over }) as GatewayConfig;

function refusal(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (error) {
    return error instanceof ApiError ? error.code : String(error);
  }
}

describe('media links', () => {
  it('act for the key that asked, for one job, until they expire', () => {
    const clock = new FakeClock();
    const links = new MediaLinks(config(), clock);
    const { token, expiresAt } = links.issue(acme, JOB);
    expect(expiresAt.toISOString()).toBe('2026-01-01T00:01:00.000Z');
    expect(links.verify(token, JOB)).toEqual({ key_id: acme.key_id, tenant: 'acme', admin: false, name: 'media link' });
    expect(links.verify(token, JOB.toUpperCase())).toMatchObject({ tenant: 'acme' });
    clock.at += 59_000;
    expect(links.verify(token, JOB)).toMatchObject({ tenant: 'acme' });
    clock.at += 1_000;
    expect(refusal(() => links.verify(token, JOB))).toBe('UNAUTHENTICATED');
  });

  it('open no other job, and nothing once altered or signed with another secret', () => {
    const links = new MediaLinks(config(), new FakeClock());
    const { token } = links.issue(acme, JOB);
    const [payload, signature] = token.split('.') as [string, string];
    const admin = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), a: true })).toString('base64url');
    for (const forged of [`${admin}.${signature}`, `${payload}.${signature.slice(0, -2)}AA`, payload, `${token}.x`, '', 'a.b']) {
      expect([forged, refusal(() => links.verify(forged, JOB))]).toEqual([forged, 'UNAUTHENTICATED']);
    }
    expect(refusal(() => links.verify(token, OTHER))).toBe('UNAUTHENTICATED');
    const elsewhere = new MediaLinks(config({ MEDIA_LINK_SECRET: 't'.repeat(32) }), new FakeClock());
    expect(refusal(() => elsewhere.verify(token, JOB))).toBe('UNAUTHENTICATED');
    // Gateways that share the secret accept each other's links.
    expect(new MediaLinks(config(), new FakeClock()).verify(token, JOB)).toMatchObject({ tenant: 'acme' });
  });

  it('without a configured secret, work only where they were issued', () => {
    const one = new MediaLinks(config({ MEDIA_LINK_SECRET: undefined }), new FakeClock());
    const two = new MediaLinks(config({ MEDIA_LINK_SECRET: undefined }), new FakeClock());
    const { token } = one.issue(acme, JOB);
    expect(one.verify(token, JOB)).toMatchObject({ tenant: 'acme' });
    expect(refusal(() => two.verify(token, JOB))).toBe('UNAUTHENTICATED');
  });
});
