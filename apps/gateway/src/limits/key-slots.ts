import type { Gauge } from 'prom-client';
import type { Principal } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import type { ApiError } from '../http/api-error.js';

/**
 * Whose budget a request counts against: its key's; with AUTH_MODE=off, where every request acts for
 * the same principal, its client address's (as ClientAddresses gives it), so that one client cannot
 * spend every other client's.
 */
export function limitOwner(authMode: GatewayConfig['AUTH_MODE'], principal: Principal, client: string): string {
  return authMode === 'off' ? `ip:${client}` : `key:${principal.key_id}`;
}

export interface KeySlotsOptions {
  authMode: GatewayConfig['AUTH_MODE'];
  /** How many slots one owner (see limitOwner) may hold at once. */
  limit: number;
  /** The error that refuses one more. */
  refusal: (limit: number) => ApiError;
  /** Counts the slots held, by the kind each was taken for. */
  gauge?: Gauge<'kind'>;
}

/**
 * A cap on how many of one thing each key holds at the same time, counted in this gateway process:
 * the uploads it streams (UploadSlots), the live streams it keeps open (LiveStreamSlots). A slot is
 * taken before the work starts and given back when it ends, however it ends; one more is refused at
 * once, and another key's slots are not touched.
 */
export class KeySlots<Kind extends string = string> {
  private readonly held = new Map<string, number>();

  constructor(private readonly options: KeySlotsOptions) {}

  /** Takes a slot for the principal (from `client`); call the returned function when it ends (more calls do nothing). */
  acquire(principal: Principal, client: string, kind?: Kind): () => void {
    const { authMode, limit, refusal, gauge } = this.options;
    const owner = limitOwner(authMode, principal, client);
    const current = this.held.get(owner) ?? 0;
    if (current >= limit) throw refusal(limit);
    this.held.set(owner, current + 1);
    if (kind !== undefined) gauge?.inc({ kind });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (kind !== undefined) gauge?.dec({ kind });
      const left = (this.held.get(owner) ?? 1) - 1;
      if (left <= 0) this.held.delete(owner);
      else this.held.set(owner, left);
    };
  }
}
