import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';
import type { GatewayConfig } from '@app/config';
import { GATEWAY_CONFIG } from '../gateway.config.js';

export type TrustProxy = GatewayConfig['TRUST_PROXY'];

/**
 * Who a request comes from, for limits kept per client: the socket's address, or, behind proxies
 * named in TRUST_PROXY, the address the nearest untrusted hop gave in X-Forwarded-For (proxy-addr,
 * as Express's `req.ip` reads it; the header is never believed from anyone else). The same for an
 * HTTP request and for a WebSocket handshake, which Express never sees.
 */
@Injectable()
export class ClientAddresses {
  private readonly trust: (address: string, hop: number) => boolean;

  constructor(@Inject(GATEWAY_CONFIG) config: Pick<GatewayConfig, 'TRUST_PROXY'>) {
    this.trust = trustFunction(config.TRUST_PROXY);
  }

  /** The client's address as limits count it: see clientBucket. */
  of(req: IncomingMessage): string {
    if (!req.socket?.remoteAddress) return 'unknown';
    return clientBucket(proxyaddr(req, this.trust));
  }
}

function trustFunction(trust: TrustProxy): (address: string, hop: number) => boolean {
  if (trust === false) return () => false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyaddr.compile(trust);
}

/**
 * One client as limits count it: an IPv4 address (an IPv4-mapped IPv6 one included) as itself, an
 * IPv6 address by its /64, the block one subscriber usually holds whole (counting each of its 2^64
 * addresses alone would count nothing). Anything unparseable stands for itself.
 */
export function clientBucket(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${parsed.toString()}/64`).toRFC5952String()}/64`;
}
