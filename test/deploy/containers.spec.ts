import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { compareNatsServerVersions, MIN_NATS_SERVER_VERSION } from '@app/nats';

const root = new URL('../..', import.meta.url).pathname;

interface Service {
  image?: string;
  command?: string[];
  ports?: string[];
  expose?: string[];
  container_name?: string;
  environment?: Record<string, string>;
  profiles?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

/**
 * There is no Docker engine on the machines this is built on, so the compose file and the
 * Dockerfile are checked by parsing them: the properties the README promises must hold.
 */
describe('containers', () => {
  it('compose runs every service with a healthcheck on its readiness probe, and workers can scale', async () => {
    const compose = parse(await readFile(`${root}/docker-compose.yml`, 'utf8'), { merge: true }) as { services: Record<string, Service> };
    // Services in a profile (Jaeger, `--profile tracing`) run only when asked for.
    const services = Object.fromEntries(Object.entries(compose.services).filter(([, service]) => !service.profiles));
    expect(Object.keys(services).sort()).toEqual(['gateway', 'jobs', 'nats', 'postgres', 'worker']);
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck).toBeDefined();
    }
    // Traces: every app passes the OTLP endpoint through (off while it is empty), and Jaeger is on offer.
    for (const name of ['gateway', 'jobs', 'worker']) expect(services[name]!.environment!['OTEL_EXPORTER_OTLP_ENDPOINT']).toBe('${OTEL_EXPORTER_OTLP_ENDPOINT:-}');
    expect(compose.services['jaeger']!.profiles).toEqual(['tracing']);
    for (const [name, port] of [['gateway', '3000'], ['jobs', '9464'], ['worker', '9465']] as const) {
      expect(services[name]!.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${port}/health/ready`);
      if (name !== 'gateway') expect(services[name]!.environment!['OPS_PORT']).toBe(port);
    }
    // `--scale worker=N` needs no fixed host port and no fixed container name.
    expect(services['worker']!.ports).toBeUndefined();
    expect(services['worker']!.container_name).toBeUndefined();
    expect(services['gateway']!.depends_on!['jobs']!.condition).toBe('service_healthy');
  });

  it('every NATS server that compose runs is 2.12 or newer and fsyncs each write before its ack', async () => {
    const compose = parse(await readFile(`${root}/docker-compose.yml`, 'utf8'), { merge: true }) as { services: Record<string, Service> };
    const overlay = parse(await readFile(`${root}/deploy/nats/docker-compose.cluster.yml`, 'utf8'), { merge: true }) as { services: Record<string, Service> };
    // The single server, and the cluster: the overlay's `nats` keeps the main file's image, nats-2 and nats-3 name theirs.
    const servers = {
      nats: compose.services['nats']!,
      'nats-1 (cluster)': { ...compose.services['nats']!, ...overlay.services['nats'] },
      'nats-2 (cluster)': overlay.services['nats-2']!,
      'nats-3 (cluster)': overlay.services['nats-3']!,
    };
    for (const [name, service] of Object.entries(servers)) {
      // `nats:2.12-alpine`, `nats:2.14.1`: a pinned minor release at least the minimum (never `latest`).
      const tag = /^nats:(\d+)\.(\d+)(?:\.(\d+))?(?:-[a-z0-9.]+)?$/.exec(service.image ?? '');
      expect([name, tag !== null]).toEqual([name, true]);
      const version = [Number(tag![1]), Number(tag![2]), Number(tag![3] ?? 0)] as const;
      expect([name, service.image, compareNatsServerVersions(version, MIN_NATS_SERVER_VERSION) >= 0]).toEqual([name, service.image, true]);
      // Its config file, from the deploy/nats folder mounted at /etc/nats, has JetStream fsync every write.
      const file = service.command![service.command!.indexOf('-c') + 1]!;
      expect(file).toMatch(/^\/etc\/nats\//);
      const conf = await readFile(`${root}/deploy/nats/${file.slice('/etc/nats/'.length)}`, 'utf8');
      const jetstream = /^jetstream \{\n([\s\S]*?)^\}/m.exec(conf)?.[1] ?? '';
      expect([name, file, /^ {2}sync_interval: always$/m.test(jetstream)]).toEqual([name, file, true]);
    }
  });

  it('compose has no default NATS password: it refuses to start until every one is set', async () => {
    const text = await readFile(`${root}/docker-compose.yml`, 'utf8');
    const cluster = await readFile(`${root}/deploy/nats/docker-compose.cluster.yml`, 'utf8');
    // Compose resolves YAML merge keys (`<<: *anchor`).
    const compose = parse(text, { merge: true }) as { services: Record<string, Service> };
    const overlay = parse(cluster, { merge: true }) as { services: Record<string, Service> };
    // `${VAR:-default}` or `${VAR-default}` would start with a password anyone can read here.
    for (const file of [text, cluster]) {
      expect(file).not.toMatch(/change-me/i);
      for (const ref of file.matchAll(/\$\{([A-Z0-9_]*PASSWORD[A-Z0-9_]*)([^}]*)\}/g)) expect([ref[1], ref[2]!.slice(0, 2)]).toEqual([ref[1], ':?']);
    }
    const required = (value: string | undefined, variable: string) => expect(value).toMatch(new RegExp(`^\\$\\{${variable}:\\?.+\\}$`));
    // Each service connects as its own user with its own password...
    for (const role of ['gateway', 'jobs', 'worker'] as const) {
      const env = compose.services[role]!.environment!;
      expect(env['NATS_USER']).toBe(role);
      required(env['NATS_PASSWORD'], `FRAMEWIRE_NATS_${role.toUpperCase()}_PASSWORD`);
    }
    // ...and every NATS node reads all of them (permissions.conf), plus the routes' own password in a cluster.
    for (const role of ['GATEWAY', 'JOBS', 'WORKER', 'ADMIN']) required(compose.services['nats']!.environment![`FRAMEWIRE_NATS_${role}_PASSWORD`], `FRAMEWIRE_NATS_${role}_PASSWORD`);
    for (const node of ['nats', 'nats-2', 'nats-3']) {
      const env = { ...(node === 'nats' ? compose.services['nats']!.environment : {}), ...overlay.services[node]!.environment };
      for (const role of ['GATEWAY', 'JOBS', 'WORKER', 'ADMIN', 'ROUTE']) required(env[`FRAMEWIRE_NATS_${role}_PASSWORD`], `FRAMEWIRE_NATS_${role}_PASSWORD`);
      // Each node's routes to the others authenticate with the route password.
      const routes = env['FRAMEWIRE_NATS_ROUTES']!;
      for (const host of ['nats', 'nats-2', 'nats-3']) expect(routes).toMatch(new RegExp(`nats-route://route:\\$\\{FRAMEWIRE_NATS_ROUTE_PASSWORD:\\?[^}]+\\}@${host}:6222`));
    }
  });

  it('the cluster nodes enforce the same per-service users as the single server', async () => {
    const single = await readFile(`${root}/deploy/nats/nats-server.conf`, 'utf8');
    const cluster = await readFile(`${root}/deploy/nats/nats-cluster.conf`, 'utf8');
    for (const conf of [single, cluster]) expect(conf).toMatch(/^include \.\/permissions\.conf$/m);
    const overlay = parse(await readFile(`${root}/deploy/nats/docker-compose.cluster.yml`, 'utf8')) as { services: Record<string, { volumes?: string[] }> };
    // Each node has permissions.conf next to its config (includes are relative to the including file).
    for (const node of ['nats-2', 'nats-3']) expect(overlay.services[node]!.volumes).toContain('./deploy/nats:/etc/nats:ro');
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
