import type { FrameOutput, MediaInfo, Tool, ToolOutput } from './tool.js';

/** What a pipeline run produces: the seeds' result shape, extended with each tool's own section. */
export interface PipelineResult {
  [key: string]: unknown;
  /** Frames in the video (null when unknown, or when the pipeline never read it). */
  total_frames: number | null;
  /** Sampled frames, by frame index, with what every tool said about each. */
  frames: FrameOutput[];
  summary: { frame_count: number; [key: string]: unknown };
  tools: Record<string, { version: string; duration_ms: number; summary: Record<string, unknown>; data?: Record<string, unknown> }>;
}

export interface ToolRun {
  tool: Pick<Tool, 'name' | 'version'>;
  output: ToolOutput;
  durationMs: number;
}

/**
 * Assembles the job's result from the outputs of its tools, in pipeline order. Frames that several
 * tools looked at are merged into one entry by frame index; the summary holds `frame_count` and the
 * tools' summaries (the first tool to use a key keeps it; each tool's own summary is under `tools`).
 */
export function assembleResult(media: MediaInfo | null, runs: readonly ToolRun[]): PipelineResult {
  const frames = new Map<number, FrameOutput>();
  const summary: PipelineResult['summary'] = { frame_count: 0 };
  const tools: PipelineResult['tools'] = {};
  for (const { tool, output, durationMs } of runs) {
    for (const frame of output.frames ?? []) {
      const existing = frames.get(frame.frame_index);
      frames.set(frame.frame_index, existing ? { ...existing, ...frame, timestamp: existing.timestamp } : { ...frame });
    }
    for (const [key, value] of Object.entries(output.summary)) {
      if (!(key in summary)) summary[key] = value;
    }
    tools[tool.name] = { version: tool.version, duration_ms: Math.round(durationMs), summary: output.summary, ...(output.data ? { data: output.data } : {}) };
  }
  const ordered = [...frames.values()].sort((a, b) => a.frame_index - b.frame_index);
  summary.frame_count = ordered.length;
  return { total_frames: media?.frameCount ?? null, frames: ordered, summary, tools };
}
