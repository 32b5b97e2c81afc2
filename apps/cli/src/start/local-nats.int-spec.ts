import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { natsConfig, parseNatsVersion } from './local-nats.js';

const run = promisify(execFile);

/** The config `framewire start` writes, checked by the nats-server on PATH itself (`-t` tests a config). */
describe('local nats-server config against the installed nats-server', () => {
  let dir = '';
  let version: [number, number, number];

  const check = async (text: string) => {
    const path = join(dir, `nats-${Math.random().toString(36).slice(2)}.conf`);
    await writeFile(path, text);
    return run('nats-server', ['-c', path, '-t']).then(
      () => ({ ok: true, output: '' }),
      (error: { stderr?: string; stdout?: string }) => ({ ok: false, output: `${error.stderr ?? ''}${error.stdout ?? ''}` }),
    );
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'framewire-nats-conf-'));
    version = parseNatsVersion((await run('nats-server', ['--version'])).stdout)!;
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is accepted by the server whose version chose it', async () => {
    expect(await check(natsConfig(version, 4222, join(dir, 'store')).text)).toEqual({ ok: true, output: '' });
  });

  it('would not start a 2.9 server with sync_interval, which is why the version decides', async () => {
    const always = await check(natsConfig([2, 10, 0], 4222, join(dir, 'store')).text);
    if (version[0] === 2 && version[1] < 10) expect(always).toMatchObject({ ok: false, output: expect.stringContaining('sync_interval') });
    else expect(always.ok).toBe(true);
  });
});
