import type { BenchContext, BenchResult } from './types.js';

export function runHlsBench(ctx: Pick<BenchContext, 'natsUrl' | 'workDir' | 'repoRoot' | 'quick' | 'log' | 'signal'>): Promise<BenchResult>;
