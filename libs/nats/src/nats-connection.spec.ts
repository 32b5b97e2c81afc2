import { describe, expect, it } from '@jest/globals';
import { natsClientOptions, natsServers } from './nats-connection.js';

describe('NATS_URL', () => {
  it('names one server, or a cluster\'s servers comma-separated (docker-compose.cluster.yml), which nats.js gets as an array', () => {
    expect(natsServers('nats://127.0.0.1:4222')).toEqual(['nats://127.0.0.1:4222']);
    expect(natsServers('nats://nats:4222,nats://nats-2:4222, nats://nats-3:4222 ')).toEqual(['nats://nats:4222', 'nats://nats-2:4222', 'nats://nats-3:4222']);
    expect(natsClientOptions('nats://a:4222,nats://b:4222', { user: 'jobs', pass: 'p' })).toEqual({ servers: ['nats://a:4222', 'nats://b:4222'], user: 'jobs', pass: 'p' });
  });

  it('drops empty entries (a trailing comma) rather than hand nats.js an empty URL', () => {
    expect(natsServers('nats://a:4222,,nats://b:4222,')).toEqual(['nats://a:4222', 'nats://b:4222']);
  });
});
