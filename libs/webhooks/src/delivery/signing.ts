import { createHmac, randomBytes } from 'node:crypto';

/** The prefix the Standard Webhooks spec gives a secret, so that one is recognised when pasted around. */
const SECRET_PREFIX = 'whsec_';

/** A new endpoint secret: `whsec_` and the base64 of 32 random bytes (the spec asks for 24 to 64). */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/**
 * The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for each secret,
 * separated by spaces. During a rotation the endpoint has two secrets and the header carries both
 * signatures, so that a receiver holding either one accepts the message.
 */
export function signatureHeader(secrets: readonly string[], msgId: string, timestampSeconds: number, body: string): string {
  // A header without a signature would be refused by every receiver: that is a bug upstream, not an outcome.
  if (secrets.length === 0) throw new Error('signatureHeader needs at least one secret');
  const content = `${msgId}.${timestampSeconds}.${body}`;
  return secrets.map((secret) => `v1,${createHmac('sha256', secretKey(secret)).update(content, 'utf8').digest('base64')}`).join(' ');
}

/** The key bytes of a `whsec_<base64>` secret. */
function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error(`a webhook secret starts with ${SECRET_PREFIX}`);
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

/** The headers of one delivery attempt: the three the spec signs with, and who is calling. */
export function webhookHeaders(input: { msgId: string; timestampSeconds: number; body: string; secrets: readonly string[] }): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'Framewire-Webhooks/1',
    'webhook-id': input.msgId,
    'webhook-timestamp': String(input.timestampSeconds),
    'webhook-signature': signatureHeader(input.secrets, input.msgId, input.timestampSeconds, input.body),
  };
}
