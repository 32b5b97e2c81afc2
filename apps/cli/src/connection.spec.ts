import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { defaultDataDir, recordServices, resolveDatabaseUrl, resolveNatsTarget } from './connection.js';
import { ensureLocalNatsPasswords } from './start/local-nats-users.js';

describe("where the CLI's own NATS connections go, and as whom", () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'framewire-connection-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('uses the local default, as nobody, when nothing is configured or running', () => {
    expect(resolveNatsTarget({}, undefined, dir)).toEqual({ url: 'nats://127.0.0.1:4222' });
  });

  it("finds the nats-server a running `framewire start` runs itself, and connects as its admin user", () => {
    const { admin } = ensureLocalNatsPasswords(dir);
    recordServices(dir, { natsUrl: 'nats://127.0.0.1:4333', databaseUrl: 'postgres://x/y', localNatsUsers: true });
    expect(resolveNatsTarget({}, undefined, dir)).toEqual({ url: 'nats://127.0.0.1:4333', user: 'admin', pass: admin });
    // The same server named in NATS_URL: still the admin user.
    expect(resolveNatsTarget({}, 'nats://127.0.0.1:4333', dir)).toEqual({ url: 'nats://127.0.0.1:4333', user: 'admin', pass: admin });
  });

  it('never sends the local admin password to another server, and prefers NATS_USER when it is set', () => {
    ensureLocalNatsPasswords(dir);
    recordServices(dir, { natsUrl: 'nats://127.0.0.1:4333', databaseUrl: 'postgres://x/y', localNatsUsers: true });
    expect(resolveNatsTarget({}, 'nats://nats.example.com:4222', dir)).toEqual({ url: 'nats://nats.example.com:4222' });
    expect(resolveNatsTarget({ NATS_USER: 'ops', NATS_PASSWORD: 'secret' }, undefined, dir)).toEqual({ url: 'nats://127.0.0.1:4333', user: 'ops', pass: 'secret' });
  });

  it('connects as nobody to a NATS that start found running (it has no users of ours)', () => {
    ensureLocalNatsPasswords(dir); // left over from an earlier start that ran its own server
    recordServices(dir, { natsUrl: 'nats://127.0.0.1:4222', databaseUrl: 'postgres://x/y' });
    expect(resolveNatsTarget({}, undefined, dir)).toEqual({ url: 'nats://127.0.0.1:4222' });
  });
});

describe("where the CLI's database connections go", () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'framewire-connection-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('falls back to the database as psql would connect: PGHOST, PGPORT, PGUSER and PGDATABASE, else 127.0.0.1:5432 framewire', () => {
    expect(resolveDatabaseUrl(undefined, dir, { PGUSER: 'ops' })).toBe('postgres://ops@127.0.0.1:5432/framewire');
    expect(resolveDatabaseUrl(undefined, dir, { PGUSER: 'ops', PGHOST: 'db.internal', PGPORT: '6432', PGDATABASE: 'video jobs' })).toBe(
      'postgres://ops@db.internal:6432/video%20jobs',
    );
  });

  it('prefers DATABASE_URL, then the database of a running `framewire start`, to the fallback', () => {
    recordServices(dir, { natsUrl: 'nats://127.0.0.1:4333', databaseUrl: 'postgres://started/fw' });
    expect(resolveDatabaseUrl(undefined, dir, { PGDATABASE: 'other' })).toBe('postgres://started/fw');
    expect(resolveDatabaseUrl('postgres://configured/db', dir, { PGDATABASE: 'other' })).toBe('postgres://configured/db');
  });

  it('finds the data directory of `framewire start` in FRAMEWIRE_DATA_DIR, else .data', () => {
    expect(defaultDataDir({})).toBe('.data');
    expect(defaultDataDir({ FRAMEWIRE_DATA_DIR: '/var/lib/framewire' })).toBe('/var/lib/framewire');
  });
});
