import { describe, expect, it } from '@jest/globals';
import { natsConfig, parseNatsVersion } from './local-nats.js';

describe('local nats-server config', () => {
  it('reads the version nats-server prints', () => {
    expect(parseNatsVersion('nats-server: v2.9.10')).toEqual([2, 9, 10]);
    expect(parseNatsVersion('nats-server: v2.10.22-RC.1')).toEqual([2, 10, 22]);
    expect(parseNatsVersion('command not found')).toBeNull();
  });

  it('leaves sync_interval out for 2.9, which refuses the field', () => {
    const { text, durability } = natsConfig([2, 9, 10], 4333, '/data/nats');
    expect(text).not.toContain('sync_interval');
    expect(text).toContain('listen: 127.0.0.1:4333');
    expect(text).toContain('store_dir: "/data/nats"');
    expect(durability).toMatch(/not a machine crash/);
  });

  it('enforces the users it is given', () => {
    const { text } = natsConfig([2, 9, 10], 4333, '/d', 'authorization {\n  users: []\n}\n');
    expect(text).toMatch(/\nauthorization \{\n {2}users: \[\]\n\}\n$/);
    expect(natsConfig([2, 9, 10], 4333, '/d').text).not.toContain('authorization');
  });

  it.each([
    [[2, 10, 0]],
    [[2, 11, 4]],
    [[3, 0, 0]],
  ] as Array<[[number, number, number]]>)('fsyncs every write on %j', (version) => {
    expect(natsConfig(version, 4222, '/d').text).toContain('sync_interval: always');
  });
});
