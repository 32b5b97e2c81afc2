import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';

const root = new URL('../..', import.meta.url).pathname;

interface Service {
  image?: string;
  command?: string[];
  ports?: string[];
  expose?: string[];
  container_name?: string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

/**
 * There is no Docker engine on the machines this is built on, so the compose file and the
 * Dockerfile are checked by parsing them: the properties the README promises must hold.
 */
describe('containers', () => {
  it('compose runs every service with a healthcheck on its readiness probe, and workers can scale', async () => {
    const compose = parse(await readFile(`${root}/docker-compose.yml`, 'utf8')) as { services: Record<string, Service> };
    const services = compose.services;
    expect(Object.keys(services).sort()).toEqual(['gateway', 'jobs', 'nats', 'postgres', 'worker']);
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck).toBeDefined();
    }
    for (const [name, port] of [['gateway', '3000'], ['jobs', '9464'], ['worker', '9465']] as const) {
      expect(services[name]!.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${port}/health/ready`);
      if (name !== 'gateway') expect(services[name]!.environment!['OPS_PORT']).toBe(port);
    }
    // `--scale worker=N` needs no fixed host port and no fixed container name.
    expect(services['worker']!.ports).toBeUndefined();
    expect(services['worker']!.container_name).toBeUndefined();
    expect(services['gateway']!.depends_on!['jobs']!.condition).toBe('service_healthy');
    expect(services['nats']!.image).toMatch(/^nats:2\.(1\d|[2-9]\d)/);
  });

  it('the image is built in stages and runs as the non-root node user', async () => {
    const lines = (await readFile(`${root}/Dockerfile`, 'utf8')).split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    const stages = lines.filter((l) => /^FROM /i.test(l));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtime = lines.slice(lines.indexOf(stages.at(-1)!));
    const users = runtime.filter((l) => /^USER /i.test(l)).map((l) => l.split(/\s+/)[1]);
    expect(users.at(-1)).toBe('node');
    // The runtime stage copies what was built, never the sources, and does not build.
    expect(runtime.filter((l) => /^COPY /i.test(l)).every((l) => l.includes('--from=build'))).toBe(true);
    expect(runtime.some((l) => /npm (run build|ci|install)/.test(l))).toBe(false);
    expect(runtime.join('\n')).toMatch(/COPY --from=build .*\/src\/dist \.\/dist/);
  });
});
