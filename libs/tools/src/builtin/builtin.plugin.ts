import { definePlugin } from '../tool.js';
import { frameStatsTool } from './frame-stats.tool.js';
import { hlsTool } from './hls.tool.js';
import { noopTool } from './noop.tool.js';
import { probeTool } from './probe.tool.js';
import { scenesTool } from './scenes.tool.js';
import { thumbnailsTool } from './thumbnails.tool.js';
import { transcodeTool } from './transcode.tool.js';

/** The pipeline a submission gets when it names none. */
export const DEFAULT_PIPELINE = 'probe';

/** The tools and pipelines that ship with Framewire. */
export const builtinPlugin = definePlugin({
  name: 'builtin',
  version: '1.0.0',
  tools: [noopTool, probeTool, thumbnailsTool, scenesTool, frameStatsTool, transcodeTool, hlsTool],
  pipelines: [
    { name: 'noop', description: noopTool.description, tools: ['noop'] },
    { name: 'probe', description: probeTool.description, tools: ['probe'] },
    { name: 'thumbnails', description: thumbnailsTool.description, tools: ['thumbnails'] },
    { name: 'scenes', description: scenesTool.description, tools: ['scenes'] },
    { name: 'frame-stats', description: frameStatsTool.description, tools: ['frame-stats'] },
    // A rendition is the costliest work here: a job that keeps failing gives up sooner.
    { name: 'transcode', description: transcodeTool.description, tools: ['transcode'], maxAttempts: 3 },
    // A whole ladder in one pass: as costly as transcode, or more.
    { name: 'hls', description: hlsTool.description, tools: ['hls'], maxAttempts: 3 },
    {
      name: 'analyze',
      description: 'probe, thumbnails, scene cuts and frame statistics in one job: the per-frame report of the seeds',
      tools: ['probe', 'thumbnails', 'scenes', 'frame-stats'],
    },
  ],
});
