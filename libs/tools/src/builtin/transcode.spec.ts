import { describe, expect, it } from '@jest/globals';
import { ToolCatalog } from '../catalog.js';
import { builtinPlugin } from './builtin.plugin.js';
import { transcodeTool } from './transcode.tool.js';

/** The `transcode` pipeline's params as the gateway validates them (merged from its tools). */
const pipelineParams = new ToolCatalog([{ source: 'builtin', tools: builtinPlugin.tools, pipelines: builtinPlugin.pipelines }]).pipeline('transcode')!.params;

describe('transcode split params', () => {
  it('are off by default: the job is not split', () => {
    expect(transcodeTool.split!.splitSeconds(transcodeTool.params.parse({}))).toBeNull();
  });

  it('take split_seconds, or segment_seconds as its other name, or both when they agree', () => {
    const split = (params: Record<string, unknown>) => transcodeTool.split!.splitSeconds(transcodeTool.params.parse(params));
    expect(split({ split_seconds: 60 })).toBe(60);
    expect(split({ segment_seconds: 2.5 })).toBe(2.5);
    expect(split({ split_seconds: 30, segment_seconds: 30 })).toBe(30);
  });

  it.each([
    ['under 2 s', { split_seconds: 1 }],
    ['over an hour', { segment_seconds: 3601 }],
    ['not a number', { split_seconds: '60' }],
  ])('refuse a split length %s', (_, params) => {
    expect(transcodeTool.params.safeParse(params).success).toBe(false);
    expect(pipelineParams.safeParse(params).success).toBe(false);
  });

  it('refuse both names with different values, in the tool and in its pipeline, saying why', () => {
    for (const schema of [transcodeTool.params, pipelineParams]) {
      const parsed = schema.safeParse({ split_seconds: 30, segment_seconds: 60 });
      expect(parsed.success).toBe(false);
      expect(parsed.error!.issues).toEqual([
        expect.objectContaining({ path: ['segment_seconds'], message: 'segment_seconds (60) is another name for split_seconds (30): give one of them, or both the same' }),
      ]);
    }
    expect(pipelineParams.safeParse({ split_seconds: 30, segment_seconds: 30 }).success).toBe(true);
  });
});
