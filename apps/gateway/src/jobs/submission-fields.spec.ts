import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { isCleanText } from '@app/contracts';
import { sanitizeFilename } from '../uploads/multipart-reader.js';
import { builtinPlugin, ToolCatalog, type Tool } from '@app/tools';
import { checkFieldsSoFar, parseSubmissionFields as parseWith } from './submit-job.service.js';

const catalog = new ToolCatalog([{ source: 'builtin', tools: builtinPlugin.tools, pipelines: builtinPlugin.pipelines }]);
const parseSubmissionFields = (f: Map<string, string>) => parseWith(f, catalog);

const fields = (entries: Record<string, string>) => new Map(Object.entries(entries));
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
};

describe('submission fields', () => {
  it('defaults to the probe pipeline with empty params at normal priority', () => {
    expect(parseSubmissionFields(fields({}))).toEqual({ pipeline: 'probe', params: {}, priority: 'normal' });
    expect(parseSubmissionFields(fields({ pipeline: ' probe ', params: '  ', priority: ' high ' }))).toEqual({ pipeline: 'probe', params: {}, priority: 'high' });
  });

  it('rejects a priority it does not know', () => {
    expect(codeOf(() => parseSubmissionFields(fields({ priority: 'urgent' })))).toBe('VALIDATION_FAILED');
  });

  it('rejects an unknown pipeline, params that are not JSON, and params the pipeline does not take', () => {
    expect(codeOf(() => parseSubmissionFields(fields({ pipeline: 'mine-bitcoin' })))).toBe('UNKNOWN_PIPELINE');
    expect(codeOf(() => parseSubmissionFields(fields({ params: '{oops' })))).toBe('INVALID_PARAMS');
    expect(codeOf(() => parseSubmissionFields(fields({ params: '[1,2]' })))).toBe('INVALID_PARAMS');
    expect(codeOf(() => parseSubmissionFields(fields({ params: '{"frame_stride":-1}' })))).toBe('INVALID_PARAMS');
    expect(codeOf(() => parseSubmissionFields(fields({ pipeline: 'thumbnails', params: '{"frame_stride":0}' })))).toBe('INVALID_PARAMS');
    expect(codeOf(() => parseSubmissionFields(fields({ pipeline: 'thumbnails', params: '{"frame_strde":5}' })))).toBe('INVALID_PARAMS');
  });

  it('judges the fields that came before the file only as far as the ones that may follow allow', () => {
    const early = (entries: Record<string, string>) => codeOf(() => checkFieldsSoFar(fields(entries), catalog));
    expect(early({ priority: 'urgent' })).toBe('VALIDATION_FAILED');
    expect(early({ pipeline: 'mine-bitcoin' })).toBe('UNKNOWN_PIPELINE');
    expect(early({ params: '{oops' })).toBe('INVALID_PARAMS');
    expect(early({ pipeline: 'thumbnails', params: '{"frame_stride":0}' })).toBe('INVALID_PARAMS');
    // Params the default pipeline does not take may suit the pipeline named after the file: not refused yet.
    expect(early({ params: '{"frame_stride":5}' })).toBeUndefined();
    expect(codeOf(() => parseSubmissionFields(fields({ params: '{"frame_stride":5}' })))).toBe('INVALID_PARAMS');
    expect(early({})).toBeUndefined();
    expect(early({ pipeline: 'thumbnails', params: '{"frame_stride":5}', priority: 'low' })).toBeUndefined();
  });

  it('fills in the defaults of every tool of the pipeline, so the event carries the params that run', () => {
    expect(parseSubmissionFields(fields({ pipeline: 'analyze', params: '{"frame_stride":5}' })).params).toEqual({
      frame_stride: 5,
      max_frames: 100,
      thumbnail_width: 320,
      sprite_width: 160,
      scene_threshold: 0.3,
      max_scenes: 200,
      black_luma: 24,
      freeze_diff: 0.5,
    });
  });

  it('takes a noop sleep_ms of 0 to 10000 whole milliseconds and nothing else', () => {
    expect(parseSubmissionFields(fields({ pipeline: 'noop', params: '{"sleep_ms":25}' })).params).toEqual({ sleep_ms: 25 });
    for (const params of ['{"sleep_ms":-1}', '{"sleep_ms":10001}', '{"sleep_ms":1.5}', '{"sleep_ms":"5"}', '{"sleep_ms":5,"x":1}']) {
      expect(codeOf(() => parseSubmissionFields(fields({ pipeline: 'noop', params })))).toBe('INVALID_PARAMS');
    }
  });
});

describe('params that hold text that is not clean', () => {
  // A plugin's tool that takes free text: the built-in tools take no string params at all.
  const labeller: Tool = {
    name: 'labeller',
    version: '1.0.0',
    description: 'test tool with free-text params',
    params: z.strictObject({ label: z.string().max(100).default(''), tags: z.record(z.string(), z.string()).default({}) }),
    readsInput: false,
    run: async () => ({ summary: {} }),
  };
  const withPlugin = new ToolCatalog([
    { source: 'builtin', tools: builtinPlugin.tools, pipelines: builtinPlugin.pipelines },
    { source: 'test-plugin', tools: [labeller], pipelines: [{ name: 'label', description: 'labels', tools: ['labeller'] }] },
  ]);
  const parse = (params: string) => parseWith(fields({ pipeline: 'label', params }), withPlugin);

  it.each([
    ['a lone high surrogate', '{"label":"\\ud83d"}'],
    ['a lone low surrogate', '{"label":"x\\ude00y"}'],
    ['a NUL', '{"label":"a\\u0000b"}'],
    ['a NUL in a key', '{"tags":{"a\\u0000":"b"}}'],
    ['a lone surrogate in a nested value', '{"tags":{"a":"\\udbff"}}'],
  ])('refuses %s with INVALID_PARAMS, before the pipeline sees them', (_what, params) => {
    expect(codeOf(() => parse(params))).toBe('INVALID_PARAMS');
  });

  it('takes clean text, emoji and right-to-left marks included, as it is', () => {
    expect(parse('{"label":"clip 😀 \u202e \\u00e9","tags":{"k":"v"}}').params).toEqual({ label: 'clip 😀 \u202e é', tags: { k: 'v' } });
  });
});

describe('sanitizeFilename', () => {
  it.each([
    ['clip.mp4', 'clip.mp4'],
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\video.mov', 'video.mov'],
    ['..hidden.mp4', 'hidden.mp4'],
    ['bad\u0000name\n.mp4', 'badname.mp4'],
    ['', 'upload'],
    [undefined, 'upload'],
    ['../', 'upload'],
  ])('%j becomes %j', (input, expected) => {
    expect(sanitizeFilename(input)).toBe(expected);
  });

  it('keeps at most 255 characters', () => {
    expect(sanitizeFilename(`${'a'.repeat(400)}.mp4`)).toHaveLength(255);
  });

  it.each([
    ['a lone high surrogate (filename*=utf-16le\'\'%3D%D8)', '\ud83d', '\ufffd'],
    ['a lone low surrogate', 'a\ude00.mp4', 'a\ufffd.mp4'],
    ['a 255-character cut inside an emoji', `${'a'.repeat(254)}😀.mp4`, 'a'.repeat(254)],
    ['a right-to-left override', 'evil\u202egpj.exe', 'evilgpj.exe'],
    ['C1 controls', 'a\u0085b\u009f.mp4', 'ab.mp4'],
  ])('cleans %s', (_what, input, expected) => {
    const name = sanitizeFilename(input);
    expect(name).toBe(expected);
    expect(isCleanText(name)).toBe(true);
  });
});
