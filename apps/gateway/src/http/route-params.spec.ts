import { describe, expect, it } from '@jest/globals';
import { parseArtifactName, parseJobId } from './route-params.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
};

describe('route parameters', () => {
  it('takes a UUID job id (any case) and refuses anything that could reach a subject or a query', () => {
    expect(parseJobId('0193A6F0-0000-7000-8000-000000000001')).toBe('0193a6f0-0000-7000-8000-000000000001');
    for (const id of ['not-a-uuid', '*', '>', 'a.b.*', `1' OR '1'='1`, '../../etc/passwd', '0193a6f0-0000-7000-8000-00000000000', 'x'.repeat(4000), '']) {
      expect(codeOf(() => parseJobId(id))).toBe('INVALID_JOB_ID');
    }
  });

  // The artifact routes arrive with #4; the name check they use is here and tested now.
  it('takes plain artifact names and refuses any that could climb out of the job folder', () => {
    for (const name of ['frame-000030.jpg', 'sprite.jpg', 'rendition_720p.mp4', 'result.json']) expect(parseArtifactName(name)).toBe(name);
    for (const name of ['../../etc/passwd', '..', 'a/../../b', '/etc/passwd', 'C:\\\\windows\\\\win.ini', 'thumb\u0000.jpg', '.hidden', 'a..b', '%2e%2e%2f', 'x'.repeat(200), '']) {
      expect({ name, code: codeOf(() => parseArtifactName(name)) }).toEqual({ name, code: 'INVALID_ARTIFACT_NAME' });
    }
  });
});
