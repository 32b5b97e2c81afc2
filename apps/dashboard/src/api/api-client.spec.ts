import { describe, expect, it } from '@jest/globals';
import { apiErrorOf } from './api-client';

describe('an error answer, as the dashboard shows it', () => {
  it('takes the code and message of the API\'s error body', () => {
    expect(apiErrorOf(409, { error: { code: 'JOB_ALREADY_ENDED', message: 'it has completed' } }, 'Conflict')).toMatchObject({ status: 409, code: 'JOB_ALREADY_ENDED', message: 'it has completed' });
  });

  it('calls a 401 without the API\'s body UNAUTHENTICATED, as the gateway does, and any other such status HTTP_<status>', () => {
    expect(apiErrorOf(401, null, 'Unauthorized')).toMatchObject({ code: 'UNAUTHENTICATED', message: 'Unauthorized' });
    expect(apiErrorOf(502, '<html>bad gateway</html>', 'Bad Gateway')).toMatchObject({ code: 'HTTP_502', message: 'Bad Gateway' });
  });
});
