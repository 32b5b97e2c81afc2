import { describe, expect, it } from '@jest/globals';
import { addressVerdict, checkUrlShape, checkWebhookUrl, guardedLookup, type WebhookUrlPolicy } from './url-policy.js';

const strict: WebhookUrlPolicy = { allowHttp: false, allowPrivateNetworks: false };
const lenient: WebhookUrlPolicy = { allowHttp: true, allowPrivateNetworks: true };

/** A resolver that knows only these names (the tests never ask real DNS). */
const names = (table: Record<string, string[]>) => async (host: string) => {
  const addresses = table[host];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses;
};

describe('addressVerdict', () => {
  it.each([
    ['127.0.0.1', 'a loopback address'],
    ['127.9.9.9', 'a loopback address'],
    ['::1', 'a loopback address'],
    ['10.0.0.5', 'a private address'],
    ['172.16.0.1', 'a private address'],
    ['172.31.255.254', 'a private address'],
    ['192.168.1.1', 'a private address'],
    ['169.254.1.1', 'a link-local address'],
    ['fc00::1', 'a private address'],
    ['fd12:3456::1', 'a private address'],
    ['fe80::1', 'a link-local address'],
    ['::ffff:127.0.0.1', 'a loopback address'],
    ['::ffff:7f00:1', 'a loopback address'],
    ['::ffff:10.1.2.3', 'a private address'],
    ['100.64.0.1', 'a carrier-grade NAT (shared) address'],
    ['224.0.0.1', 'a multicast address'],
    ['192.0.2.10', 'a reserved address (reserved)'],
  ])('refuses %s, %s', (address, what) => {
    expect(addressVerdict(address, strict)).toEqual({ ok: false, reason: `${address} is ${what} (set WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 to allow such addresses)` });
  });

  it.each(['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', 'fd00:ec2:0::254', '100.100.100.200', '::ffff:169.254.169.254'])(
    'refuses the cloud metadata address %s, even on private networks',
    (address) => {
      expect(addressVerdict(address, strict)).toEqual({ ok: false, reason: `${address} is a cloud metadata address` });
      expect(addressVerdict(address, lenient)).toEqual({ ok: false, reason: `${address} is a cloud metadata address` });
    },
  );

  it.each(['0.0.0.0', '::', '::ffff:0.0.0.0'])('refuses the unspecified address %s, even on private networks', (address) => {
    expect(addressVerdict(address, lenient)).toEqual({ ok: false, reason: `${address} is an unspecified address` });
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '::ffff:93.184.215.14'])('allows the public address %s', (address) => {
    expect(addressVerdict(address, strict)).toEqual({ ok: true });
  });

  it('allows private, loopback and link-local addresses when the policy allows private networks', () => {
    for (const address of ['127.0.0.1', '::1', '10.0.0.5', '192.168.1.1', 'fd12::1', 'fe80::1', '100.64.0.1', '169.254.1.1']) {
      expect(addressVerdict(address, lenient)).toEqual({ ok: true });
    }
  });

  it('refuses what is not an address', () => {
    expect(addressVerdict('example.com', lenient)).toEqual({ ok: false, reason: 'example.com is not an IP address' });
  });
});

describe('checkUrlShape', () => {
  it('takes an https URL, and returns it parsed', () => {
    const verdict = checkUrlShape('https://hooks.example.com/framewire?tenant=7', strict);
    expect(verdict.ok && verdict.url.href).toBe('https://hooks.example.com/framewire?tenant=7');
  });

  it('refuses http unless the policy allows it', () => {
    expect(checkUrlShape('http://hooks.example.com/', strict)).toEqual({
      ok: false,
      code: 'forbidden',
      reason: 'http URLs are refused (set WEBHOOK_ALLOW_HTTP=1 to allow them)',
    });
    expect(checkUrlShape('http://hooks.example.com/', { ...strict, allowHttp: true }).ok).toBe(true);
  });

  it.each([
    ['https://user:secret@hooks.example.com/', 'the URL carries a user name or password; send credentials another way'],
    ['https://user@hooks.example.com/', 'the URL carries a user name or password; send credentials another way'],
    ['ftp://hooks.example.com/', 'a webhook URL is https, not ftp'],
    ['file:///etc/passwd', 'a webhook URL is https, not file'],
    ['not a url', 'this is not a URL'],
    ['https://', 'this is not a URL'],
    ['https://hooks.example.com/#top', 'the URL has a fragment (#...), which is never sent'],
    ['https://hooks.example.com/#', 'the URL has a fragment (#...), which is never sent'],
    [`https://hooks.example.com/${'a'.repeat(2030)}`, 'the URL is longer than 2048 characters'],
  ])('finds %s invalid', (raw, reason) => {
    expect(checkUrlShape(raw, lenient)).toEqual({ ok: false, code: 'invalid', reason });
  });

  it('takes a URL of exactly 2048 characters', () => {
    const raw = `https://hooks.example.com/${'a'.repeat(2048 - 'https://hooks.example.com/'.length)}`;
    expect(raw).toHaveLength(2048);
    expect(checkUrlShape(raw, strict).ok).toBe(true);
  });
});

describe('checkWebhookUrl', () => {
  const resolve = names({
    'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    'example.internal': ['10.0.0.5'],
    'split.example.com': ['93.184.215.14', '192.168.1.20'],
    'metadata.example.com': ['169.254.169.254'],
    'mapped.example.com': ['::ffff:127.0.0.1'],
  });

  it('takes a name whose every address is public', async () => {
    const verdict = await checkWebhookUrl('https://hooks.example.com/in', strict, resolve);
    expect(verdict.ok && verdict.url.hostname).toBe('hooks.example.com');
  });

  it('refuses a name that resolves to a private address, naming both', async () => {
    expect(await checkWebhookUrl('https://example.internal/in', strict, resolve)).toEqual({
      ok: false,
      code: 'forbidden',
      reason: 'example.internal resolves to 10.0.0.5, a private address (set WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 to allow such addresses)',
    });
  });

  it('refuses a name with one public and one private address', async () => {
    const verdict = await checkWebhookUrl('https://split.example.com/in', strict, resolve);
    expect(verdict).toMatchObject({ ok: false, code: 'forbidden', reason: expect.stringContaining('split.example.com resolves to 192.168.1.20') });
  });

  it('refuses a name resolving to an IPv4-mapped loopback address', async () => {
    expect(await checkWebhookUrl('https://mapped.example.com/', strict, resolve)).toMatchObject({ ok: false, code: 'forbidden' });
  });

  it('allows private names when the policy does, but never the metadata address', async () => {
    expect((await checkWebhookUrl('https://example.internal/in', lenient, resolve)).ok).toBe(true);
    expect(await checkWebhookUrl('https://metadata.example.com/latest', lenient, resolve)).toEqual({
      ok: false,
      code: 'forbidden',
      reason: 'metadata.example.com resolves to 169.254.169.254, a cloud metadata address',
    });
  });

  it('judges an IP-literal host as its own address, without resolving it', async () => {
    const never = async (): Promise<string[]> => {
      throw new Error('resolved an IP literal');
    };
    expect(await checkWebhookUrl('https://127.0.0.1:8443/', strict, never)).toMatchObject({ ok: false, code: 'forbidden', reason: expect.stringContaining('127.0.0.1 is a loopback address') });
    expect(await checkWebhookUrl('https://[::1]/', strict, never)).toMatchObject({ ok: false, code: 'forbidden', reason: expect.stringContaining('::1 is a loopback address') });
    expect(await checkWebhookUrl('https://[::ffff:127.0.0.1]/', strict, never)).toMatchObject({ ok: false, code: 'forbidden' });
    // The URL parser reads old spellings of IPv4 as the address they mean.
    expect(await checkWebhookUrl('https://2130706433/', strict, never)).toMatchObject({ ok: false, code: 'forbidden', reason: expect.stringContaining('127.0.0.1') });
    expect(await checkWebhookUrl('https://0x7f.1/', strict, never)).toMatchObject({ ok: false, code: 'forbidden' });
    expect(await checkWebhookUrl('https://[fd00:ec2::254]/', lenient, never)).toMatchObject({ ok: false, code: 'forbidden', reason: expect.stringContaining('cloud metadata') });
    expect((await checkWebhookUrl('https://93.184.215.14/', strict, never)).ok).toBe(true);
    expect((await checkWebhookUrl('https://[2606:4700:4700::1111]/', strict, never)).ok).toBe(true);
  });

  it('finds a name that does not resolve invalid', async () => {
    expect(await checkWebhookUrl('https://nowhere.example.com/', strict, resolve)).toEqual({ ok: false, code: 'invalid', reason: 'nowhere.example.com does not resolve' });
    expect(await checkWebhookUrl('https://empty.example.com/', strict, async () => [])).toEqual({ ok: false, code: 'invalid', reason: 'empty.example.com does not resolve' });
  });

  it('checks the shape before resolving anything', async () => {
    expect(await checkWebhookUrl('http://hooks.example.com/', strict, resolve)).toMatchObject({ ok: false, code: 'forbidden', reason: expect.stringContaining('WEBHOOK_ALLOW_HTTP') });
  });
});

describe('guardedLookup', () => {
  // `localhost` resolves from /etc/hosts, without a DNS server.
  const lookup = (policy: WebhookUrlPolicy, options: { all?: boolean; family?: number }) =>
    new Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) => {
      guardedLookup(policy)('localhost', options, (error, address, family) => resolve({ error, address, family }));
    });

  it('refuses a name that resolves to a loopback address, with the reason and its code', async () => {
    const { error } = await lookup(strict, {});
    expect(error?.code).toBe('WEBHOOK_ADDRESS_FORBIDDEN');
    expect(error?.message).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), a loopback address/);
  });

  it('answers in the form asked for when the policy allows the addresses', async () => {
    const one = await lookup(lenient, { family: 4 });
    expect(one).toEqual({ error: null, address: '127.0.0.1', family: 4 });
    const all = await lookup(lenient, { all: true, family: 4 });
    expect(all).toEqual({ error: null, address: [{ address: '127.0.0.1', family: 4 }], family: undefined });
  });
});
