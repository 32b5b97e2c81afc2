import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { jobSubjects } from '@app/contracts';
import { natsPermissions, renderNatsAuthorization } from './nats-permissions.js';

const DEPLOY_FILE = new URL('../../../deploy/nats/permissions.conf', import.meta.url);
const HEADER = [
  '# Generated from libs/nats/src/nats-permissions.ts for the namespace "framewire"; do not edit.',
  '# Refresh: UPDATE_DEPLOY=1 npm run jest -- libs/nats/src/nats-permissions.spec.ts',
  '# Passwords come from the nats container\'s environment (see docker-compose.yml).',
  '',
].join('\n');

function rendered(): string {
  return (
    HEADER +
    renderNatsAuthorization(jobSubjects('framewire'), {
      gateway: '$FRAMEWIRE_NATS_GATEWAY_PASSWORD',
      jobs: '$FRAMEWIRE_NATS_JOBS_PASSWORD',
      worker: '$FRAMEWIRE_NATS_WORKER_PASSWORD',
      admin: '$FRAMEWIRE_NATS_ADMIN_PASSWORD',
    })
  );
}

describe('NATS permissions', () => {
  const p = natsPermissions(jobSubjects('framewire'));

  it('lets the gateway publish work requests but no lifecycle event, and never manage the event stream', () => {
    expect(p.gateway.publish).toContain('framewire.job.*.submitted.*');
    expect(p.gateway.publish.some((s) => s.includes('lifecycle') || s === 'framewire.job.>' || s === '>')).toBe(false);
    expect(p.gateway.publish.some((s) => /STREAM\.(CREATE|UPDATE|DELETE|PURGE)\.FRAMEWIRE_EVENTS/.test(s))).toBe(false);
    expect(p.gateway.publish.some((s) => s.startsWith('$JS.ACK.FRAMEWIRE_EVENTS') || s.includes('CONSUMER.DELETE.FRAMEWIRE_EVENTS'))).toBe(false);
    expect(p.gateway.subscribe).not.toContain('framewire.rpc.>');
  });

  it("lets the gateway read the workers' registry but never write or create it", () => {
    expect(p.gateway.publish).toContain('$JS.API.STREAM.INFO.KV_framewire_workers');
    expect(p.gateway.publish.some((s) => s.startsWith('$KV.framewire_workers') || /STREAM\.(CREATE|UPDATE|DELETE|PURGE)\.KV_framewire_workers/.test(s))).toBe(false);
    expect(p.worker.publish).toContain('$KV.framewire_workers.>');
  });

  it('lets the gateways alone own the resumable uploads (their state and lock buckets), delete chunks by sequence, and the jobs service read their state', () => {
    for (const s of ['$KV.framewire_uploads.>', '$KV.framewire_upload_locks.>', '$JS.API.STREAM.MSG.DELETE.OBJ_framewire_videos', '$JS.API.STREAM.CREATE.KV_framewire_uploads']) {
      expect(p.gateway.publish).toContain(s);
    }
    expect(p.gateway.publish.some((s) => /UPLOAD_CHUNKS|framewire\.upload\./.test(s))).toBe(false);
    expect(p.worker.publish.some((s) => /upload/i.test(s))).toBe(false);
    // The storage sweep reads the uploads' state, to leave a live upload's chunks alone; it never writes it.
    expect(p.jobs.publish).toContain('$JS.API.STREAM.INFO.KV_framewire_uploads');
    expect(p.jobs.publish.some((s) => s.startsWith('$KV.framewire_upload') || /STREAM\.(CREATE|UPDATE|PURGE|MSG\.DELETE)\.KV_framewire_upload/.test(s) || s.includes('upload_locks'))).toBe(false);
    expect(p.jobs.publish.some((s) => s.includes('MSG.DELETE'))).toBe(false);
    expect(p.gateway.publish.some((s) => s.includes('STREAM.DELETE'))).toBe(false);
  });

  it('lets workers append lifecycle events but not submit work; only the jobs service answers requests', () => {
    expect(p.worker.publish).toContain('framewire.job.*.lifecycle');
    expect(p.worker.publish.some((s) => s.includes('submitted'))).toBe(false);
    expect(p.jobs.subscribe).toContain('framewire.rpc.>');
    expect(p.jobs.allowResponses).toBe(true);
    expect([p.gateway, p.worker].every((r) => !r.allowResponses && !r.subscribe.includes('framewire.rpc.>'))).toBe(true);
  });

  it('lets workers delete their own work consumers (to make one again for a new filter), and no other of the event stream', () => {
    const deletes = p.worker.publish.filter((s) => s.includes('CONSUMER.DELETE.FRAMEWIRE_EVENTS'));
    expect(deletes.sort()).toEqual(['workers', 'workers-high', 'workers-low'].map((name) => `$JS.API.CONSUMER.DELETE.FRAMEWIRE_EVENTS.${name}`));
  });

  it("lets every service delete its reads' ordered consumers on the bucket's stream (which has no durable ones), and the gateway none of the event stream's", () => {
    for (const role of ['gateway', 'jobs', 'worker'] as const) expect(p[role].publish).toContain('$JS.API.CONSUMER.DELETE.OBJ_framewire_videos.*');
    expect(p.gateway.publish.filter((s) => s.includes('CONSUMER.DELETE.FRAMEWIRE_EVENTS'))).toEqual([]);
  });

  it("denies the gateway and the workers, by name, every durable consumer that is not their own", () => {
    const reach = (name: string) => [`$JS.API.CONSUMER.CREATE.FRAMEWIRE_EVENTS.${name}`, `$JS.API.CONSUMER.CREATE.FRAMEWIRE_EVENTS.${name}.>`, `$JS.API.CONSUMER.MSG.NEXT.FRAMEWIRE_EVENTS.${name}`, `$JS.ACK.FRAMEWIRE_EVENTS.${name}.>`];
    for (const name of ['workers', 'workers-high', 'workers-low', 'projector', 'webhooks']) expect(p.gateway.publishDeny).toEqual(expect.arrayContaining(reach(name)));
    for (const name of ['projector', 'webhooks']) expect(p.worker.publishDeny).toEqual(expect.arrayContaining(reach(name)));
    expect(p.worker.publishDeny.some((s) => s.includes('.workers'))).toBe(false);
    // Nothing a service needs for its own consumers is denied to it.
    expect(p.worker.publish.filter((s) => p.worker.publishDeny.includes(s))).toEqual([]);
  });

  it('gives each service its own inbox, so none can read the replies meant for another', () => {
    expect(p.gateway.subscribe).toContain('_INBOX_gateway.>');
    expect(p.jobs.subscribe).toContain('_INBOX_jobs.>');
    expect(p.worker.subscribe).toContain('_INBOX_worker.>');
    expect(Object.values(p).some((r) => r.subscribe.includes('_INBOX.>') || r.subscribe.includes('>'))).toBe(false);
  });

  it('is what deploy/nats/permissions.conf (docker-compose) holds', () => {
    if (process.env['UPDATE_DEPLOY'] === '1') writeFileSync(DEPLOY_FILE, rendered());
    expect(readFileSync(DEPLOY_FILE, 'utf8')).toBe(rendered());
  });
});
