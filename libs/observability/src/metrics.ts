import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * A Prometheus registry for one service: the process metrics (CPU, memory, event loop lag, GC) plus
 * whatever the service registers, every series labelled with the service's name. Each process has
 * its own registry, so tests that run several services in one process keep their figures apart.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'framewire_' });
  return registry;
}

/** Seconds-scale buckets for job waits and runs: 5 ms to 30 min. */
export const JOB_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** Buckets for HTTP request durations: 1 ms to 60 s (uploads are long). */
export const HTTP_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The injection token of a service's registry. */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
