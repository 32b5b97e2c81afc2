import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { ErrorCode } from '@app/contracts';
import { routeAccessOf } from '../auth/route-access.table.js';
import { CODES_NEVER_A_STATUS, statusOf } from '../http/api-error.js';
import { GATEWAY_CONTROLLERS } from '../gateway.controllers.js';
import { buildOpenApiDocument } from './openapi.document.js';

type Operation = {
  operationId?: string;
  tags?: string[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, { headers?: Record<string, unknown> }>;
  security?: Array<Record<string, string[]>>;
  'x-framewire-access'?: string;
};

/** The operations Redocly's `operation-4xx-response` is told to pass over, as JSON pointers to their responses. */
function lintIgnoredWithout4xx(): string[] {
  const file = parse(readFileSync(new URL('../../../../.redocly.lint-ignore.yaml', import.meta.url), 'utf8')) as Record<string, Record<string, string[]>>;
  return Object.values(file).flatMap((rules) => rules['operation-4xx-response'] ?? []);
}

const pointer = (...parts: string[]) => `#/${parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;

describe('the OpenAPI document', () => {
  const access = routeAccessOf(GATEWAY_CONTROLLERS);
  const doc = buildOpenApiDocument('test', access) as unknown as {
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { type: string; scheme?: string; in?: string }> };
    security: unknown;
    servers: Array<{ url: string }>;
    tags: Array<{ name: string; description?: string }>;
    webhooks: Record<string, Record<string, Operation>>;
  };
  const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ method, path, operation })));
  const op = (method: string, path: string) => doc.paths[path]?.[method];

  it('names its component schemas and refers to them', () => {
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Error', 'Job', 'StoredEvent', 'JobChange', 'System', 'MediaLinks']));
    expect(JSON.stringify(doc.paths['/v1/jobs/{id}'])).toContain('#/components/schemas/Job');
  });

  it("describes a split job's parts in the Job schema, each with its span, status, attempts, worker and progress", () => {
    const job = doc.components.schemas['Job'] as { required: string[]; properties: Record<string, any> };
    expect(job.required).toContain('parts');
    const part = job.properties['parts'].items as { required: string[]; properties: Record<string, any> };
    expect([...part.required].sort()).toEqual(['attempts', 'end', 'index', 'progress', 'start', 'status', 'worker_id']);
    expect(part.properties['status'].enum).toEqual(['queued', 'running', 'completed', 'failed', 'stopped']);
    expect(JSON.stringify(part.properties['end'])).toContain('null');
  });

  it('lists every error code in the Error schema, with its status unless it is never one', () => {
    const error = doc.components.schemas['Error'] as { properties: { error: { properties: { code: { description: string } } } } };
    const { description } = error.properties.error.properties.code;
    const never = description.slice(description.indexOf('Never a status'));
    for (const code of Object.values(ErrorCode)) {
      const listed = CODES_NEVER_A_STATUS.includes(code) ? new RegExp(`\\b${code}\\b`).test(never) : new RegExp(`\\b${code} \\(${statusOf(code)}\\)`).test(description);
      expect([code, listed]).toEqual([code, true]);
    }
  });

  it('documents the error body on every error response (the seeds\' routes: theirs, which holds ours)', () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) >= 400 && path.startsWith('/v1/')) {
            expect([`${method} ${path} ${status}`, JSON.stringify(response)]).toEqual([`${method} ${path} ${status}`, expect.stringMatching(/#\/components\/schemas\/(Seeds)?Error"/)]);
          }
        }
      }
    }
  });

  it('documents every controller route, with the access its decorators give it', () => {
    expect(access.length).toBeGreaterThanOrEqual(25);
    for (const route of access) {
      const operation = op(route.method, route.path);
      expect([`${route.method} ${route.path}`, operation?.['x-framewire-access']]).toEqual([`${route.method} ${route.path}`, route.access]);
    }
  });

  it('describes the bearer scheme, and which routes are public, need a key, need an admin key or take a media link', () => {
    expect(doc.components.securitySchemes['apiKey']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes['mediaLink']).toMatchObject({ type: 'apiKey', in: 'query' });
    expect(doc.security).toEqual([{ apiKey: [] }]);
    for (const path of ['/', '/jobs/{id}', '/webhooks', '/docs', '/docs/openapi.json', '/docs/init.js', '/docs/assets/{file}', '/health/live', '/health/ready']) {
      expect([path, op('get', path)?.security, op('get', path)?.responses['401']]).toEqual([path, [], undefined]);
    }
    for (const path of ['/metrics', '/v1/system', '/v1/workers']) {
      expect([path, op('get', path)?.['x-framewire-access']]).toEqual([path, 'admin']);
      expect(op('get', path)?.responses['403']).toBeDefined();
    }
    for (const [method, path] of [['get', '/v1/pipelines'], ['get', '/v1/worker/health'], ['post', '/v1/video/submit'], ['get', '/v1/stream/jobs']]) {
      expect([path, op(method!, path!)?.['x-framewire-access'], op(method!, path!)?.security]).toEqual([path, 'key', [{ apiKey: [] }]]);
    }
    for (const path of ['/v1/jobs/{id}/video', '/v1/jobs/{id}/artifacts/{name}', '/v1/jobs/{id}/stream']) {
      expect([path, op('get', path)?.security]).toEqual([path, [{ apiKey: [] }, { mediaLink: [] }]]);
    }
    expect(op('get', '/v1/jobs/{id}/result')?.security).toEqual([{ apiKey: [] }]);
    // The files a media link in the path opens: no scheme fits a path parameter, and no key opens them.
    const media = op('get', '/v1/jobs/{id}/media/{token}/{name}');
    expect([media?.['x-framewire-access'], media?.security, Object.keys(media?.responses ?? {})]).toEqual(['media-link', [], expect.arrayContaining(['206', '401', '404', '416', '429'])]);
  });

  it('gives every route behind a key its 401 and its 429 with Retry-After, and the upload its media errors', () => {
    for (const route of access.filter((r) => r.access !== 'public')) {
      const operation = op(route.method, route.path)!;
      expect([route.path, Object.keys(operation.responses)]).toEqual([route.path, expect.arrayContaining(['401', '429'])]);
      expect(operation.responses['429']!.headers).toHaveProperty('Retry-After');
    }
    const upload = JSON.stringify(op('post', '/v1/jobs')!.responses);
    expect(upload).toContain('UNSUPPORTED_MEDIA');
    expect(upload).toContain('INVALID_MEDIA');
  });

  it('gives every operation (and the webhook) a unique camelCase operationId, for generated clients to name their methods by', () => {
    const ids = [...operations.map(({ operation }) => operation.operationId), ...Object.values(doc.webhooks).flatMap((item) => Object.values(item).map((o) => o.operationId))];
    expect(ids.length).toBeGreaterThanOrEqual(45);
    for (const [i, id] of ids.entries()) expect([i, id]).toEqual([i, expect.stringMatching(/^[a-z][a-zA-Z0-9]*$/)]);
    expect(new Set(ids).size).toBe(ids.length);
    // The names a client already calls stay put.
    expect(op('post', '/v1/jobs')?.operationId).toBe('submitJob');
    expect(op('get', '/v1/jobs')?.operationId).toBe('listJobs');
    expect(op('get', '/v1/jobs/{id}')?.operationId).toBe('getJob');
    expect(op('post', '/v1/jobs/{id}/cancel')?.operationId).toBe('cancelJob');
    expect(op('post', '/v1/jobs/{id}/retry')?.operationId).toBe('redriveJob');
  });

  it('names its server, and files each operation under a declared, described tag', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    const declared = new Map(doc.tags.map((tag) => [tag.name, tag.description]));
    for (const { method, path, operation } of operations) {
      expect([method, path, operation.tags?.length]).toEqual([method, path, 1]);
      expect([method, path, declared.get(operation.tags![0]!)]).toEqual([method, path, expect.any(String)]);
    }
  });

  it('documents a 4xx for every operation but the public ones that take nothing, which the Redocly ignore file lists exactly', () => {
    const without4xx = operations.filter(({ operation }) => !Object.keys(operation.responses).some((status) => status.startsWith('4')));
    for (const { method, path, operation } of without4xx) {
      expect([method, path, operation['x-framewire-access'], operation.parameters ?? [], operation.requestBody]).toEqual([method, path, 'public', [], undefined]);
    }
    expect(lintIgnoredWithout4xx().sort()).toEqual(without4xx.map(({ method, path }) => pointer('paths', path, method, 'responses')).sort());
  });

  it('describes each 4xx with the error body and the codes it can carry', () => {
    const cancel = op('post', '/v1/jobs/{id}/cancel')!.responses as Record<string, { description: string }>;
    expect(Object.keys(cancel)).toEqual(expect.arrayContaining(['400', '401', '404', '409', '429']));
    expect(cancel['409']!.description).toContain('JOB_ALREADY_ENDED');
    expect(cancel['404']!.description).toContain('JOB_NOT_FOUND');
    const create = op('post', '/v1/webhooks')!.responses as Record<string, { description: string }>;
    expect(Object.keys(create)).toEqual(expect.arrayContaining(['400', '401', '413', '415', '429']));
  });

  it('can be built twice (each build has its own registry)', () => {
    expect(buildOpenApiDocument('again', access)).toMatchObject({ info: { version: 'again' } });
  });
});
