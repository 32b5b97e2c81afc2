import { describe, expect, it } from '@jest/globals';
import { durabilityOf, natsConfig } from './local-nats.js';

describe('local nats-server config', () => {
  it('fsyncs every write before its ack unless told otherwise', () => {
    const { text, durability } = natsConfig(4333, '/data/nats');
    expect(text).toContain('listen: 127.0.0.1:4333');
    expect(text).toContain('store_dir: "/data/nats"');
    expect(text).toMatch(/^ {2}sync_interval: always$/m);
    expect(durability).toMatch(/a machine crash loses nothing acknowledged/);
  });

  it('quotes a sync interval, which the config parser would otherwise read as a size', () => {
    const { text, durability } = natsConfig(4333, '/d', '2m');
    expect(text).toMatch(/^ {2}sync_interval: "2m"$/m);
    expect(durability).toMatch(/fsync every 2m: a machine crash can lose up to 2m of acknowledged writes/);
  });

  it('says in the banner what the interval means', () => {
    expect(durabilityOf('always')).toMatch(/^sync_interval: always \(/);
    expect(durabilityOf('10s')).toMatch(/^sync_interval: 10s \(.*can lose/);
  });

  it('enforces the users it is given', () => {
    const { text } = natsConfig(4333, '/d', 'always', 'authorization {\n  users: []\n}\n');
    expect(text).toMatch(/\nauthorization \{\n {2}users: \[\]\n\}\n$/);
    expect(natsConfig(4333, '/d').text).not.toContain('authorization');
  });
});
