import { deadLettersPageSchema, deadLetterViewSchema } from '@app/contracts';
import type { ApiDocs } from '../docs/openapi.registry.js';
import { deadLettersQuerySchema } from './dead-letters.controller.js';

/** The documentation of GET /v1/dead-letters. */
export function registerDeadLettersRoutes({ registry, component, errors, json }: ApiDocs): void {
  const entry = component('DeadLetter', deadLetterViewSchema, 'A job that failed because its work message ran out of deliveries');
  registry.registerPath({
    method: 'get',
    path: '/v1/dead-letters',
    operationId: 'listDeadLetters',
    tags: ['operations'],
    summary: 'Dead letters',
    description:
      'Jobs whose work message was delivered max_deliver times without any attempt finishing (the worker crashed or hung each time), most recently dead-lettered first, with keyset paging. A job leaves the list when a new attempt starts.',
    request: { query: deadLettersQuerySchema },
    responses: { 200: json('A page of dead letters', deadLettersPageSchema.extend({ dead_letters: entry.array() })), ...errors(400, 503) },
  });
}
