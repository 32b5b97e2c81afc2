// @ts-check
/**
 * A Framewire tool plugin: `silence` finds the silent stretches of a video's audio track with
 * ffmpeg's `silencedetect` filter. It is a separate package on purpose: it shows everything a team
 * needs to write its own tools (see README.md beside this file and "Writing a plugin" in the
 * project's docs/pipelines.md).
 *
 * A plugin is an ES module whose default export is `{ name, version, tools, pipelines }`. Each tool
 * has a name, a version, a description, a params schema (a zod strict object; the gateway validates
 * submissions against it before anything is published) and `run(ctx)`, which returns
 * `{ summary, frames?, data? }`. The worker hands `run` everything it may touch: the input file,
 * the params, `ctx.media` (what ffprobe found), a progress reporter, an AbortSignal, an artifact
 * writer and `ctx.tools.ffmpeg`, which runs ffmpeg with the job's signal and parses `-progress`.
 */
import { z } from 'zod';

const params = z.strictObject({
  noise_db: z.number().min(-120).max(0).default(-35).describe('audio below this level (dBFS) counts as silence'),
  min_silence_sec: z.number().min(0.01).max(3600).default(0.5).describe('only silences at least this long are reported'),
});

/** Reads `silence_start: 1.5` / `silence_end: 2.5 | silence_duration: 1` lines from ffmpeg's log. */
export function parseSilences(log, durationSec) {
  /** @type {Array<{ start: number; end: number; duration: number }>} */
  const silences = [];
  /** @type {number | null} */
  let start = null;
  for (const line of log.split('\n')) {
    const began = /silence_start:\s*(-?[\d.]+)/.exec(line);
    if (began) start = Math.max(0, Number(began[1]));
    const ended = /silence_end:\s*(-?[\d.]+)/.exec(line);
    if (ended && start !== null) {
      const end = Number(ended[1]);
      silences.push({ start: round(start), end: round(end), duration: round(end - start) });
      start = null;
    }
  }
  // A silence that lasts to the end of the file has a start and no end.
  if (start !== null && durationSec !== null) silences.push({ start: round(start), end: round(durationSec), duration: round(durationSec - start) });
  return silences;
}

function round(value) {
  return Math.round(value * 1000) / 1000;
}

const silenceTool = {
  name: 'silence',
  version: '1.0.0',
  description: 'silent stretches of the audio track (ffmpeg silencedetect): start, end and duration of each',
  params,
  /** @param {any} ctx the ToolContext (see libs/tools/src/tool.ts) */
  async run(ctx) {
    const media = ctx.media;
    if (!media || !media.hasAudio) {
      return { summary: { silence_count: 0, silent_seconds: 0 }, data: { has_audio: false, silences: [] } };
    }
    const { noise_db, min_silence_sec } = ctx.params;
    // silencedetect logs at "info" level; -v info keeps those lines (and little else with -nostats).
    const { stderr } = await ctx.tools.ffmpeg(
      ['-v', 'info', '-i', ctx.inputPath, '-map', '0:a:0', '-af', `silencedetect=noise=${noise_db}dB:d=${min_silence_sec}`, '-f', 'null', '-'],
      {
        onProgress: (/** @type {{ outTimeSec: number | null }} */ p) => {
          if (p.outTimeSec !== null && media.durationSec) ctx.progress.fraction(p.outTimeSec / media.durationSec);
        },
      },
    );
    const silences = parseSilences(stderr, media.durationSec);
    return {
      summary: { silence_count: silences.length, silent_seconds: round(silences.reduce((sum, s) => sum + s.duration, 0)) },
      data: { has_audio: true, noise_db, min_silence_sec, silences },
    };
  },
};

export default {
  name: '@framewire/plugin-silence',
  version: '1.0.0',
  tools: [silenceTool],
  pipelines: [{ name: 'silence', description: silenceTool.description, tools: ['silence'] }],
};
