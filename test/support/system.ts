import { readFile } from 'node:fs/promises';
import { testKeys } from './keys.js';
import { type AppName, spawnService, type ServiceProcess } from './processes.js';

/**
 * The built apps as separate OS processes, sharing one environment (NATS, PostgreSQL, namespace),
 * the way `framewire start` or compose runs them. Each service is started under a name, so a test can
 * kill, stop and start them one by one.
 */
export class TestSystem {
  readonly services = new Map<string, ServiceProcess>();
  /** `Authorization` for the system's gateway, once `authenticate` has made a key. */
  authHeaders: Record<string, string> = {};

  constructor(private readonly env: Record<string, string>) {}

  /**
   * Makes an admin key in the system's key store (beside its read-model schema, as the jobs service
   * keeps it) and sends it on every request made with `fetch` and `submitFile` below.
   */
  async authenticate(): Promise<void> {
    const keys = await testKeys(this.env['DATABASE_SCHEMA'] ?? 'public', this.env['DATABASE_URL']);
    try {
      this.authHeaders = (await keys.create('default', true, 'test system')).headers;
    } finally {
      await keys.close();
    }
  }

  /** fetch with the system's key. */
  fetch(url: string, init: RequestInit = {}): Promise<Response> {
    return fetch(url, { ...init, headers: { ...this.authHeaders, ...(init.headers as Record<string, string> | undefined) } });
  }

  /** POSTs a file as a job with the system's key. */
  submitFile(base: string, path: string, fields: Record<string, string> = {}, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
    return submitFile(base, path, fields, { ...this.authHeaders, ...headers }, signal);
  }

  start(name: string, app: AppName, extra: Record<string, string> = {}): ServiceProcess {
    const service = spawnService(name, app, { ...this.env, ...extra });
    this.services.set(name, service);
    return service;
  }

  get(name: string): ServiceProcess {
    const service = this.services.get(name);
    if (!service) throw new Error(`no service ${name}`);
    return service;
  }

  /** Starts a gateway on a free port and resolves with its base URL once it listens. */
  async startGateway(name = 'gateway', extra: Record<string, string> = {}): Promise<string> {
    const gateway = this.start(name, 'gateway', { PORT: '0', HOST: '127.0.0.1', ...extra });
    const line = await gateway.waitForLine(/gateway listening/);
    return `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  }

  /** True while the process has not exited (it was neither killed nor crashed). */
  alive(name: string): boolean {
    const { child } = this.get(name);
    return child.exitCode === null && child.signalCode === null;
  }

  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all([...this.services.values()].map((s) => s.stop(signal)));
  }
}

/** POSTs a file as a job (multipart, like curl -F). */
export async function submitFile(
  base: string,
  path: string,
  fields: Record<string, string> = {},
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  form.set('file', new Blob([await readFile(path)], { type: 'video/mp4' }), 'clip.mp4');
  return fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers, signal });
}
