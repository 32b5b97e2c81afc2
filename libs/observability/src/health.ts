/** One dependency a service needs in order to do its work. */
export interface HealthCheck {
  readonly name: string;
  /** Resolves when the dependency answers; rejects (or times out) when it does not. */
  check(): Promise<void>;
}

export interface HealthReport {
  status: 'ok' | 'error';
  checks: Record<string, { status: 'up' | 'down'; error?: string; ms: number }>;
}

const CHECK_TIMEOUT_MS = 2000;

/**
 * Readiness: every check runs at once, each bounded by a timeout, so a hung dependency makes the
 * probe answer "down" quickly instead of hanging the probe itself.
 */
export async function runHealthChecks(checks: readonly HealthCheck[], timeoutMs = CHECK_TIMEOUT_MS): Promise<HealthReport> {
  const results = await Promise.all(
    checks.map(async (c) => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          c.check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [c.name, { status: 'up' as const, ms: Math.round(performance.now() - started) }] as const;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return [c.name, { status: 'down' as const, error: message, ms: Math.round(performance.now() - started) }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const status = results.every(([, r]) => r.status === 'up') ? 'ok' : 'error';
  return { status, checks: Object.fromEntries(results) };
}

/** The injection token of a service's readiness checks. */
export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');
