import { describe, expect, it } from '@jest/globals';
import { idempotentJobId, UuidV7Generator } from './ids.js';

describe('ids', () => {
  it('derives the same job id for the same key and scope, and different ones otherwise', () => {
    const a = idempotentJobId('tenant-a', 'key-1');
    expect(idempotentJobId('tenant-a', 'key-1')).toBe(a);
    expect(idempotentJobId('tenant-b', 'key-1')).not.toBe(a);
    expect(idempotentJobId('tenant-a', 'key-2')).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('does not let the scope and key run into each other', () => {
    expect(idempotentJobId('ab', 'c')).not.toBe(idempotentJobId('a', 'bc'));
  });

  it('generates UUIDv7 ids that sort by creation', () => {
    const ids = new UuidV7Generator();
    const made = Array.from({ length: 50 }, () => ids.next());
    expect(new Set(made).size).toBe(50);
    expect([...made].sort()).toEqual(made);
    expect(made[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  it('keeps them unique, ordered and random across refills of its random pool', () => {
    const ids = new UuidV7Generator();
    const made = Array.from({ length: 2000 }, () => ids.next());
    expect(new Set(made).size).toBe(2000);
    expect([...made].sort()).toEqual(made);
    for (const id of made) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // The last 48 bits are random: ids made in one millisecond never share them.
    expect(new Set(made.map((id) => id.slice(-12))).size).toBe(2000);
  });
});
