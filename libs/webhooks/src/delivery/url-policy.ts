import { lookup as dnsLookup, promises as dns, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** What an operator allows of webhook URLs beyond public HTTPS (both off in production). */
export interface WebhookUrlPolicy {
  /** Plain `http:` URLs (WEBHOOK_ALLOW_HTTP): for local development. */
  allowHttp: boolean;
  /** Addresses that are not public unicast (WEBHOOK_ALLOW_PRIVATE_NETWORKS): receivers on the same network. */
  allowPrivateNetworks: boolean;
}

/**
 * A URL judged for use as a webhook endpoint. `invalid`: not a usable URL at all; `forbidden`: a URL
 * the policy refuses (its scheme, or an address its host stands for). The reason is one sentence for
 * the person who registered it.
 */
export type UrlVerdict = { ok: true; url: URL } | { ok: false; code: 'invalid' | 'forbidden'; reason: string };

export type AddressVerdict = { ok: true } | { ok: false; reason: string };

/** The code of the error guardedLookup gives for a host whose address the policy refuses. */
export const WEBHOOK_ADDRESS_FORBIDDEN = 'WEBHOOK_ADDRESS_FORBIDDEN';

const MAX_URL_LENGTH = 2048;

/**
 * Where cloud instances ask for their credentials: refused even on private networks, the one request
 * a forged webhook would most like to make. AWS, GCP and Azure (169.254.169.254), ECS task metadata
 * (169.254.170.2), AWS over IPv6 (fd00:ec2::254), Alibaba Cloud (100.100.100.200).
 */
const METADATA_ADDRESSES = ['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', '100.100.100.200'].map((address) => ipaddr.parse(address).toString());

/** How ipaddr.js's ranges are named to a person (the others by the range's own name). */
const RANGE_NAMES: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  uniqueLocal: 'a private address',
  linkLocal: 'a link-local address',
  carrierGradeNat: 'a carrier-grade NAT (shared) address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
};

/**
 * The URL alone, before any name is resolved: `https:` (`http:` only when allowed), a host, no
 * credentials (they would travel to the receiver in clear sight of logs), no fragment (never sent),
 * at most 2048 characters.
 */
export function checkUrlShape(raw: string, policy: WebhookUrlPolicy): UrlVerdict {
  if (raw.length > MAX_URL_LENGTH) return invalid(`the URL is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return invalid('this is not a URL');
  }
  if (url.protocol === 'http:' && !policy.allowHttp) return forbidden('http URLs are refused (set WEBHOOK_ALLOW_HTTP=1 to allow them)');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return invalid(`a webhook URL is https, not ${url.protocol.slice(0, -1)}`);
  if (url.hostname === '') return invalid('the URL has no host');
  if (url.username !== '' || url.password !== '') return invalid('the URL carries a user name or password; send credentials another way');
  if (raw.includes('#')) return invalid('the URL has a fragment (#...), which is never sent');
  return { ok: true, url };
}

/**
 * One address a webhook would connect to. Public unicast only, unless the policy allows private
 * networks; cloud metadata and unspecified addresses never. An IPv4-mapped IPv6 address is judged as
 * the IPv4 address it carries (that is where the connection goes).
 */
export function addressVerdict(address: string, policy: WebhookUrlPolicy): AddressVerdict {
  const refused = refusal(address, policy);
  return refused === null ? { ok: true } : { ok: false, reason: `${address} is ${refused}` };
}

/** What the address is, when the policy refuses it (`a private address`), else null. */
function refusal(address: string, policy: WebhookUrlPolicy): string | null {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  const parsed = ipaddr.process(address);
  if (METADATA_ADDRESSES.includes(parsed.toString())) return 'a cloud metadata address';
  const range = parsed.range();
  // 0.0.0.0 (and ::) reach the machine itself on Linux.
  if (range === 'unspecified') return 'an unspecified address';
  if (range === 'unicast' || policy.allowPrivateNetworks) return null;
  const name = RANGE_NAMES[range] ?? `a reserved address (${range})`;
  return `${name} (set WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 to allow such addresses)`;
}

/** Every address of a name, as dns.lookup (getaddrinfo, /etc/hosts included) gives them. */
async function resolveAll(host: string): Promise<string[]> {
  const addresses = await dns.lookup(host, { all: true, verbatim: true });
  return addresses.map((entry) => entry.address);
}

/**
 * A URL for registration: its shape, then every address its host resolves to (an IP literal is its
 * own). Every one must pass, since a connection may go to any of them. This says nothing of later:
 * the name may resolve elsewhere tomorrow, which is why each delivery connects through guardedLookup.
 */
export async function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy, resolve: (host: string) => Promise<string[]> = resolveAll): Promise<UrlVerdict> {
  const shape = checkUrlShape(raw, policy);
  if (!shape.ok) return shape;
  const host = hostOf(shape.url);
  if (ipaddr.isValid(host)) {
    const verdict = addressVerdict(host, policy);
    return verdict.ok ? shape : forbidden(verdict.reason);
  }
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch {
    addresses = [];
  }
  if (addresses.length === 0) return invalid(`${host} does not resolve`);
  for (const address of addresses) {
    const refused = refusal(address, policy);
    if (refused !== null) return forbidden(`${host} resolves to ${address}, ${refused}`);
  }
  return shape;
}

/** The URL's host as an address or a name: an IPv6 literal without its brackets. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * A `lookup` for http.request that refuses a name when any of its addresses fails the policy: the
 * check made at the moment of connecting, so a name that moves to a private address after it was
 * registered (DNS rebinding) is not followed there. It honours the options Node passes (`all` among
 * them, which Node asks for when it tries address families in turn). Node calls it for names only:
 * an IP-literal URL must be checked by the caller with addressVerdict.
 */
export function guardedLookup(policy: WebhookUrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '');
      for (const { address } of addresses) {
        const refused = refusal(address, policy);
        if (refused !== null) {
          const forbiddenError: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${address}, ${refused}`);
          forbiddenError.code = WEBHOOK_ADDRESS_FORBIDDEN;
          return callback(forbiddenError, '');
        }
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

function invalid(reason: string): UrlVerdict {
  return { ok: false, code: 'invalid', reason };
}

function forbidden(reason: string): UrlVerdict {
  return { ok: false, code: 'forbidden', reason };
}
