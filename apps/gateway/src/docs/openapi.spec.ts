import { describe, expect, it } from '@jest/globals';
import { buildOpenApiDocument } from './openapi.document.js';

describe('the OpenAPI document', () => {
  const doc = buildOpenApiDocument('test') as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };

  it('names its component schemas and refers to them', () => {
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Error', 'Job', 'StoredEvent', 'JobChange', 'System']));
    expect(JSON.stringify(doc.paths['/v1/jobs/{id}'])).toContain('#/components/schemas/Job');
  });

  it('documents the error body on every error response', () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) >= 400 && path.startsWith('/v1/')) {
            expect([`${method} ${path} ${status}`, JSON.stringify(response)]).toEqual([`${method} ${path} ${status}`, expect.stringContaining('#/components/schemas/Error')]);
          }
        }
      }
    }
  });

  it('can be built twice (each build has its own registry)', () => {
    expect(buildOpenApiDocument('again')).toMatchObject({ info: { version: 'again' } });
  });
});
