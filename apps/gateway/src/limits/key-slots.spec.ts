import { describe, expect, it } from '@jest/globals';
import { Gauge, Registry } from 'prom-client';
import { ErrorCode, type Principal } from '@app/contracts';
import { ApiError } from '../http/api-error.js';
import { KeySlots, limitOwner } from './key-slots.js';

const key = (key_id: string): Principal => ({ key_id, tenant: 'acme', admin: false, name: key_id });
const refusal = (limit: number) => new ApiError(ErrorCode.TooManyStreams, `at most ${limit}`);
const codeOf = (take: () => unknown) => {
  try {
    take();
    return null;
  } catch (error) {
    return error instanceof ApiError ? error.code : String(error);
  }
};

describe('KeySlots', () => {
  it('holds at most `limit` slots per key, leaves other keys alone, and frees a slot once however often it is released', () => {
    const slots = new KeySlots({ authMode: 'keys', limit: 2, refusal });
    const first = slots.acquire(key('a'), '10.0.0.1');
    slots.acquire(key('a'), '10.0.0.2');
    expect(codeOf(() => slots.acquire(key('a'), '10.0.0.3'))).toBe(ErrorCode.TooManyStreams);
    expect(codeOf(() => slots.acquire(key('b'), '10.0.0.1'))).toBeNull();
    first();
    first();
    expect(codeOf(() => slots.acquire(key('a'), '10.0.0.1'))).toBeNull();
    expect(codeOf(() => slots.acquire(key('a'), '10.0.0.1'))).toBe(ErrorCode.TooManyStreams);
  });

  it('with AUTH_MODE=off, where every request is the same principal, counts per client address', () => {
    const slots = new KeySlots({ authMode: 'off', limit: 1, refusal });
    const everyone = key('auth-off');
    slots.acquire(everyone, '10.0.0.1');
    expect(codeOf(() => slots.acquire(everyone, '10.0.0.1'))).toBe(ErrorCode.TooManyStreams);
    expect(codeOf(() => slots.acquire(everyone, '10.0.0.2'))).toBeNull();
    expect(limitOwner('off', everyone, '10.0.0.2')).not.toBe(limitOwner('off', everyone, '10.0.0.1'));
    expect(limitOwner('keys', key('a'), '10.0.0.2')).toBe(limitOwner('keys', key('a'), '10.0.0.1'));
  });

  it('counts the slots held by kind in its gauge, and not a refused one', async () => {
    const gauge = new Gauge({ name: 'slots_held', help: 'slots', labelNames: ['kind'], registers: [new Registry()] });
    const slots = new KeySlots<'sse' | 'ws'>({ authMode: 'keys', limit: 2, refusal, gauge });
    const held = async () => Object.fromEntries((await gauge.get()).values.map((v) => [v.labels['kind'], v.value]));
    const sse = slots.acquire(key('a'), '10.0.0.1', 'sse');
    slots.acquire(key('a'), '10.0.0.1', 'ws');
    codeOf(() => slots.acquire(key('a'), '10.0.0.1', 'ws'));
    expect(await held()).toEqual({ sse: 1, ws: 1 });
    sse();
    sse();
    expect(await held()).toEqual({ sse: 0, ws: 1 });
  });
});
