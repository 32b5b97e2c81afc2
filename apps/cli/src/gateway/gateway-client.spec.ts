import { describe, expect, it } from '@jest/globals';
import { errorFromBody } from './gateway-client.js';

describe('an error answer, as the CLI reports it', () => {
  it('takes the code and message of the API\'s error body', () => {
    const body = JSON.stringify({ error: { code: 'JOB_NOT_FOUND', message: 'no job 0193' } });
    expect(errorFromBody(404, body)).toMatchObject({ status: 404, code: 'JOB_NOT_FOUND', message: 'no job 0193' });
  });

  it('calls a 401 without the API\'s body UNAUTHENTICATED, as the gateway does, and any other such status HTTP_<status>', () => {
    expect(errorFromBody(401, '<html>Authorization Required</html>', 'Unauthorized')).toMatchObject({ code: 'UNAUTHENTICATED', message: '<html>Authorization Required</html>' });
    expect(errorFromBody(502, '', 'Bad Gateway')).toMatchObject({ code: 'HTTP_502', message: 'Bad Gateway' });
    expect(errorFromBody(500, 'null')).toMatchObject({ code: 'HTTP_500' });
  });
});
