import { describe, expect, it } from '@jest/globals';
import { ConfigError, gatewayEnvSchema, jobsEnvSchema, parseConfig, workerEnvSchema } from './env.js';

describe('config', () => {
  it('gives defaults for a newcomer', () => {
    const config = parseConfig(gatewayEnvSchema, {});
    expect(config).toMatchObject({ NATS_URL: 'nats://127.0.0.1:4222', FRAMEWIRE_NAMESPACE: 'framewire', PORT: 3000, LOG_LEVEL: 'info' });
  });

  it('gives the jobs service and the workers their own default ops ports', () => {
    expect(parseConfig(jobsEnvSchema, { DATABASE_URL: 'postgres://x/y' })).toMatchObject({ OPS_HOST: '0.0.0.0', OPS_PORT: 9464 });
    expect(parseConfig(workerEnvSchema, {})).toMatchObject({ OPS_PORT: 9465 });
    expect(parseConfig(workerEnvSchema, { OPS_PORT: '0' }).OPS_PORT).toBe(0);
  });

  it('coerces numbers from the environment', () => {
    expect(parseConfig(workerEnvSchema, { WORKER_CONCURRENCY: '4' }).WORKER_CONCURRENCY).toBe(4);
  });

  it.each([
    [workerEnvSchema, { WORKER_CONCURRENCY: 'abc' }, 'WORKER_CONCURRENCY', '"abc"'],
    [workerEnvSchema, { WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY', 'at least 1'],
    [gatewayEnvSchema, { PORT: '70000' }, 'PORT', 'at most 65535'],
    [workerEnvSchema, { OPS_PORT: '70000' }, 'OPS_PORT', 'at most 65535'],
    [jobsEnvSchema, { DATABASE_URL: 'postgres://x/y', OPS_PORT: 'nine' }, 'OPS_PORT', '"nine"'],
    [gatewayEnvSchema, { NATS_URL: 'http://x' }, 'NATS_URL', 'nats:'],
    [gatewayEnvSchema, { FRAMEWIRE_NAMESPACE: 'Bad.Name' }, 'FRAMEWIRE_NAMESPACE', 'a-z'],
    [workerEnvSchema, { WORKER_PROBE_SUBJECT: 'bench.probe.>' }, 'WORKER_PROBE_SUBJECT', 'no wildcards'],
    [jobsEnvSchema, {}, 'DATABASE_URL', 'required'],
    [jobsEnvSchema, { DATABASE_URL: 'postgres://x/y', DATABASE_SCHEMA: 'Drop Table' }, 'DATABASE_SCHEMA', 'SQL identifier'],
  ])('rejects a bad value with one line naming the variable (%#)', (schema, env, name, detail) => {
    let error: unknown;
    try {
      parseConfig(schema, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(name);
    expect(message).toContain(detail);
    expect(message).not.toContain('\n');
  });

  it('treats an empty variable as unset', () => {
    expect(parseConfig(gatewayEnvSchema, { PORT: '' }).PORT).toBe(3000);
  });
});
