import { describe, expect, it } from '@jest/globals';
import { errorFromBody, unreachable } from './errors.js';

describe('an error answer, as the client reports it', () => {
  it('takes the code and message of the API\'s error body', () => {
    const body = JSON.stringify({ error: { code: 'JOB_NOT_FOUND', message: 'no job 0193' } });
    expect(errorFromBody(404, body)).toMatchObject({ status: 404, code: 'JOB_NOT_FOUND', message: 'no job 0193' });
  });

  it('calls a 401 without the API\'s body UNAUTHENTICATED, as the gateway does, and any other such status HTTP_<status>', () => {
    expect(errorFromBody(401, '<html>Authorization Required</html>', 'Unauthorized')).toMatchObject({ code: 'UNAUTHENTICATED', message: '<html>Authorization Required</html>' });
    expect(errorFromBody(502, '', 'Bad Gateway')).toMatchObject({ code: 'HTTP_502', message: 'Bad Gateway' });
    expect(errorFromBody(500, 'null')).toMatchObject({ code: 'HTTP_500' });
    expect(errorFromBody(400, '{"error":{"code":""}}')).toMatchObject({ code: 'HTTP_400' });
  });

  it('names the gateway that did not answer, and why', () => {
    const error = unreachable('http://127.0.0.1:9', new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') }));
    expect(error).toMatchObject({ status: 0, code: 'UNREACHABLE', message: 'no gateway at http://127.0.0.1:9 (connect ECONNREFUSED 127.0.0.1:9)' });
  });
});
