import { availableParallelism } from 'node:os';
import { describe, expect, it } from '@jest/globals';
import { cliEnvSchema, ConfigError, gatewayEnvSchema, isSyncInterval, jobsEnvSchema, parseConfig, workerEnvSchema } from './env.js';

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

  it('gives the worker media limits that suit real videos, and caps its tools by the machine', () => {
    expect(parseConfig(workerEnvSchema, {})).toMatchObject({
      MEDIA_MAX_DURATION_SEC: 14_400,
      MEDIA_MAX_PIXELS: 7680 * 4320,
      MEDIA_MAX_FPS: 240,
      MEDIA_MAX_FRAMES: 3_456_000,
      MEDIA_MAX_STREAMS: 32,
      FFMPEG_THREADS: availableParallelism(),
      FFPROBE_TIMEOUT_MS: 300_000,
    });
    // Unset: the worker derives it from the threads (memoryCapMb).
    expect(parseConfig(workerEnvSchema, {}).FFMPEG_MEMORY_MB).toBeUndefined();
    expect(parseConfig(workerEnvSchema, { MEDIA_MAX_FPS: '60', FFMPEG_THREADS: '1', FFMPEG_MEMORY_MB: '0' })).toMatchObject({ MEDIA_MAX_FPS: 60, FFMPEG_THREADS: 1, FFMPEG_MEMORY_MB: 0 });
  });

  it('limits failed authentications per client address and live streams per key, and trusts no proxy, unless told otherwise', () => {
    expect(parseConfig(gatewayEnvSchema, {})).toMatchObject({ AUTH_FAILURE_LIMIT: 60, AUTH_FAILURE_WINDOW_MS: 60_000, MAX_LIVE_STREAMS_PER_KEY: 16, TRUST_PROXY: false });
    expect(parseConfig(gatewayEnvSchema, { TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(parseConfig(gatewayEnvSchema, { TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::1' }).TRUST_PROXY).toEqual(['loopback', '10.0.0.0/8', 'fd00::1']);
  });

  it('takes the servers of a NATS cluster as a comma-separated NATS_URL, as docker-compose.cluster.yml sets it', () => {
    const url = 'nats://nats:4222,nats://nats-2:4222,nats://nats-3:4222';
    expect(parseConfig(workerEnvSchema, { NATS_URL: url }).NATS_URL).toBe(url);
    expect(() => parseConfig(workerEnvSchema, { NATS_URL: 'nats://nats:4222,http://x' })).toThrow(/NATS_URL/);
  });

  it('has the nats-server that `framewire start` runs fsync before every ack unless NATS_SYNC_INTERVAL says otherwise', () => {
    expect(parseConfig(cliEnvSchema, {}).NATS_SYNC_INTERVAL).toBe('always');
    expect(parseConfig(cliEnvSchema, { NATS_SYNC_INTERVAL: '2m' }).NATS_SYNC_INTERVAL).toBe('2m');
    expect(() => parseConfig(cliEnvSchema, { NATS_SYNC_INTERVAL: 'never' })).toThrow(/NATS_SYNC_INTERVAL must be "always" or a duration .*\(got "never"\)/);
  });

  it.each([
    ['always', true],
    ['10s', true],
    ['2m', true],
    ['1h30m', true],
    ['1.5s', true],
    ['250ms', true],
    ['5us', true],
    ['0s', false],
    ['0', false],
    ['10', false],
    ['-1s', false],
    ['2M', false],
    ['2 m', false],
    ['Always', false],
    ['', false],
  ])('NATS_SYNC_INTERVAL %j is valid: %s', (value, valid) => {
    expect(isSyncInterval(value)).toBe(valid);
  });

  it('coerces numbers from the environment', () => {
    expect(parseConfig(workerEnvSchema, { WORKER_CONCURRENCY: '4' }).WORKER_CONCURRENCY).toBe(4);
  });

  it('keeps one replica of each stream unless told to replicate over a cluster', () => {
    expect(parseConfig(workerEnvSchema, {}).NATS_STREAM_REPLICAS).toBe(1);
    expect(parseConfig(jobsEnvSchema, { DATABASE_URL: 'postgres://x/y', NATS_STREAM_REPLICAS: '3' }).NATS_STREAM_REPLICAS).toBe(3);
  });

  it.each([
    [workerEnvSchema, { WORKER_CONCURRENCY: 'abc' }, 'WORKER_CONCURRENCY', '"abc"'],
    [workerEnvSchema, { WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY', 'at least 1'],
    [workerEnvSchema, { MEDIA_MAX_FPS: 'fast' }, 'MEDIA_MAX_FPS', '"fast"'],
    [workerEnvSchema, { MEDIA_MAX_DURATION_SEC: '0' }, 'MEDIA_MAX_DURATION_SEC', 'at least 1'],
    [workerEnvSchema, { FFMPEG_THREADS: '0' }, 'FFMPEG_THREADS', 'at least 1'],
    [workerEnvSchema, { FFMPEG_MEMORY_MB: '-1' }, 'FFMPEG_MEMORY_MB', 'at least 0'],
    [gatewayEnvSchema, { PORT: '70000' }, 'PORT', 'at most 65535'],
    [gatewayEnvSchema, { NATS_STREAM_REPLICAS: '0' }, 'NATS_STREAM_REPLICAS', 'at least 1'],
    [workerEnvSchema, { OPS_PORT: '70000' }, 'OPS_PORT', 'at most 65535'],
    [jobsEnvSchema, { DATABASE_URL: 'postgres://x/y', OPS_PORT: 'nine' }, 'OPS_PORT', '"nine"'],
    [gatewayEnvSchema, { NATS_URL: 'http://x' }, 'NATS_URL', 'nats:'],
    [gatewayEnvSchema, { FRAMEWIRE_NAMESPACE: 'Bad.Name' }, 'FRAMEWIRE_NAMESPACE', 'a-z'],
    [workerEnvSchema, { WORKER_PROBE_SUBJECT: 'bench.probe.>' }, 'WORKER_PROBE_SUBJECT', 'no wildcards'],
    [jobsEnvSchema, {}, 'DATABASE_URL', 'required'],
    [jobsEnvSchema, { DATABASE_URL: 'postgres://x/y', DATABASE_SCHEMA: 'Drop Table' }, 'DATABASE_SCHEMA', 'SQL identifier'],
    [jobsEnvSchema, { DATABASE_URL: 'postgres://x/y', DATABASE_SCHEMA: 'fw', AUTH_DATABASE_SCHEMA: 'fw' }, 'AUTH_DATABASE_SCHEMA', 'differ'],
    [jobsEnvSchema, { DATABASE_URL: 'postgres://x/y', DATABASE_SCHEMA: 'a'.repeat(63) }, 'AUTH_DATABASE_SCHEMA', '63'],
    [gatewayEnvSchema, { AUTH_MODE: 'none' }, 'AUTH_MODE', 'keys'],
    [gatewayEnvSchema, { CORS_ORIGINS: '*' }, 'CORS_ORIGINS', 'origin'],
    [gatewayEnvSchema, { TRUST_PROXY: 'true' }, 'TRUST_PROXY', 'hop count'],
    [gatewayEnvSchema, { TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY', 'subnet'],
    [gatewayEnvSchema, { TRUST_PROXY: 'proxy.example.com' }, 'TRUST_PROXY', 'IP address'],
    [gatewayEnvSchema, { MAX_LIVE_STREAMS_PER_KEY: '0' }, 'MAX_LIVE_STREAMS_PER_KEY', 'at least 1'],
    [gatewayEnvSchema, { CORS_ORIGINS: 'https://ok.example.com,https://app.example.com/path' }, 'CORS_ORIGINS', 'no path'],
    [gatewayEnvSchema, { RATE_LIMIT_WINDOW_MS: '10' }, 'RATE_LIMIT_WINDOW_MS', 'at least 1000'],
    [gatewayEnvSchema, { TRACE_UI_URL: 'jaeger:16686' }, 'TRACE_UI_URL', 'http:// or https://'],
    [gatewayEnvSchema, { TRACE_UI_URL: 'ftp://traces.example.com/{trace_id}' }, 'TRACE_UI_URL', '{trace_id}'],
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

  it('is secure by default: keys on, CORS off, limits set; keys live beside the read model in their own schema', () => {
    expect(parseConfig(gatewayEnvSchema, {})).toMatchObject({ AUTH_MODE: 'keys', CORS_ORIGINS: [], RATE_LIMIT_REQUESTS: 600, MAX_CONCURRENT_UPLOADS_PER_KEY: 4 });
    expect(parseConfig(gatewayEnvSchema, { CORS_ORIGINS: 'https://a.example.com, http://localhost:5173' }).CORS_ORIGINS).toEqual(['https://a.example.com', 'http://localhost:5173']);
    expect(parseConfig(jobsEnvSchema, { DATABASE_URL: 'postgres://x/y' }).AUTH_DATABASE_SCHEMA).toBe('public_auth');
    expect(parseConfig(jobsEnvSchema, { DATABASE_URL: 'postgres://x/y', DATABASE_SCHEMA: 't_1', AUTH_DATABASE_SCHEMA: 'keys' }).AUTH_DATABASE_SCHEMA).toBe('keys');
  });

  it("links a trace under a trace UI's base URL as Jaeger does, or through a template with {trace_id} for any other UI", () => {
    expect(parseConfig(gatewayEnvSchema, {}).TRACE_UI_URL).toBeUndefined();
    expect(parseConfig(gatewayEnvSchema, { TRACE_UI_URL: 'http://127.0.0.1:16686/' }).TRACE_UI_URL).toBe('http://127.0.0.1:16686/trace/{trace_id}');
    const grafana = 'https://grafana.example.com/explore?left={"queries":[{"query":"{trace_id}","queryType":"traceql"}]}';
    expect(parseConfig(gatewayEnvSchema, { TRACE_UI_URL: grafana }).TRACE_UI_URL).toBe(grafana);
  });

  it('treats an empty variable as unset', () => {
    expect(parseConfig(gatewayEnvSchema, { PORT: '' }).PORT).toBe(3000);
  });
});
