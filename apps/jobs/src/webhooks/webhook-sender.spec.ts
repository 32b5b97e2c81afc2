import { describe, expect, it } from '@jest/globals';
import { withinTenantCap } from './webhook-sender.service.js';

describe('withinTenantCap', () => {
  it('keeps what fits in each tenant\'s cap, counting what is in flight, and hands back the rest', () => {
    const claimed = [
      { id: 'a1', tenant: 'a' },
      { id: 'b1', tenant: 'b' },
      { id: 'a2', tenant: 'a' },
      { id: 'a3', tenant: 'a' },
      { id: 'b2', tenant: 'b' },
    ];
    const { kept, over } = withinTenantCap(claimed, new Map([['a', 1]]), 2);
    expect(kept.map((d) => d.id)).toEqual(['a1', 'b1', 'b2']);
    expect(over.map((d) => d.id)).toEqual(['a2', 'a3']);
  });

  it('keeps nothing of a tenant already at its cap', () => {
    expect(withinTenantCap([{ tenant: 'a' }], new Map([['a', 3]]), 3)).toEqual({ kept: [], over: [{ tenant: 'a' }] });
  });
});
