import { describe, expect, it } from '@jest/globals';
import { errorFromBody, unreachable } from './errors.js';
import { call } from './framewire-client.js';

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

describe('an openapi-fetch answer, through call()', () => {
  const answer = (status: number, body: string, type: string) => new Response(body, { status, statusText: 'Bad Gateway', headers: { 'Content-Type': type } });

  it("returns the data of a 2xx, and throws a refusal's code, whether its body is the API's JSON or a proxy's page", async () => {
    await expect(call(Promise.resolve({ data: { ok: 1 }, response: answer(200, '', 'application/json') }))).resolves.toEqual({ ok: 1 });
    const json = { error: { code: 'RATE_LIMITED', message: 'slow down' } };
    await expect(call(Promise.resolve({ error: json, response: answer(429, '', 'application/json') }))).rejects.toMatchObject({ status: 429, code: 'RATE_LIMITED', message: 'slow down' });
    await expect(call(Promise.resolve({ error: '<html>bad gateway</html>', response: answer(502, '', 'text/html') }))).rejects.toMatchObject({ code: 'HTTP_502', message: '<html>bad gateway</html>' });
  });
});
