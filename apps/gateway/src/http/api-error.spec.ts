import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@app/contracts';
import { CODES_NEVER_A_STATUS, STATUS_BY_CODE, statusOf } from './api-error.js';

const everyCode = Object.values(ErrorCode);

describe('the status of each error code', () => {
  it('gives every ErrorCode a 4xx or 5xx status, and names no code ErrorCode lacks', () => {
    for (const code of everyCode) {
      expect([code, statusOf(code)]).toEqual([code, expect.any(Number)]);
      expect([code, statusOf(code) >= 400 && statusOf(code) <= 599]).toEqual([code, true]);
    }
    expect(Object.keys(STATUS_BY_CODE).sort()).toEqual([...everyCode].sort());
  });

  it('answers the multipart reader\'s refusals 400 and a client that went away 499', () => {
    expect([ErrorCode.InvalidMultipart, ErrorCode.UnexpectedField, ErrorCode.DuplicateField].map(statusOf)).toEqual([400, 400, 400]);
    expect(statusOf(ErrorCode.ClientClosedRequest)).toBe(499);
    expect(statusOf(ErrorCode.MethodNotAllowed)).toBe(405);
  });

  it('keeps the codes that are never a status (a live stream\'s error event, a job\'s error) at 500', () => {
    expect(CODES_NEVER_A_STATUS).toEqual(expect.arrayContaining([ErrorCode.StreamFailed, ErrorCode.ToolFailed, ErrorCode.MaxDeliveries]));
    for (const code of CODES_NEVER_A_STATUS) expect([code, statusOf(code)]).toEqual([code, 500]);
  });
});
