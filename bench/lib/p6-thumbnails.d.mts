import type { BenchContext, BenchResult } from './types.js';

export function runThumbnailsBench(ctx: Pick<BenchContext, 'natsUrl' | 'workDir' | 'repoRoot' | 'quick' | 'log'>): Promise<BenchResult>;
