// Webhooks: the endpoints integrators register and the deliveries made to them (stored in their own
// PostgreSQL schema), the Standard Webhooks signature, the URL policy against server-side request
// forgery and the outbound HTTP request of one attempt.
export * from './delivery/signing.js';
export * from './delivery/url-policy.js';
export * from './delivery/retry-schedule.js';
export * from './delivery/post-webhook.js';
export * from './delivery/post-webhook-span.js';
export * from './store/webhook-store.js';
export * from './store/webhook.repository.js';
