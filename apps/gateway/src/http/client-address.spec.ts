import { Socket } from 'node:net';
import { IncomingMessage } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { ClientAddresses, clientBucket } from './client-address.js';

/** A request as it arrives from `remote`, with the headers given. */
function requestFrom(remote: string, headers: Record<string, string> = {}): IncomingMessage {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: remote });
  const req = new IncomingMessage(socket);
  req.headers = headers;
  return req;
}

describe('client addresses', () => {
  it('counts an IPv4 client by its address, IPv4-mapped or not, and an IPv6 client by its /64', () => {
    expect(clientBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(clientBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientBucket('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientBucket('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(clientBucket('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(clientBucket('not an address')).toBe('not an address');
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY names the proxy it came through', () => {
    const forwarded = { 'x-forwarded-for': '198.51.100.1, 192.0.2.9' };
    expect(new ClientAddresses({ TRUST_PROXY: false }).of(requestFrom('10.0.0.5', forwarded))).toBe('10.0.0.5');
    // One trusted hop: the address that hop saw (the last one it appended).
    expect(new ClientAddresses({ TRUST_PROXY: 1 }).of(requestFrom('10.0.0.5', forwarded))).toBe('192.0.2.9');
    expect(new ClientAddresses({ TRUST_PROXY: ['10.0.0.0/8'] }).of(requestFrom('10.0.0.5', forwarded))).toBe('192.0.2.9');
    // From an address that is not a trusted proxy, the header is the client's own claim: not believed.
    expect(new ClientAddresses({ TRUST_PROXY: ['10.0.0.0/8'] }).of(requestFrom('198.51.100.77', forwarded))).toBe('198.51.100.77');
    expect(new ClientAddresses({ TRUST_PROXY: ['loopback'] }).of(requestFrom('::1', { 'x-forwarded-for': '2001:db8::5' }))).toBe('2001:db8::/64');
  });
});
