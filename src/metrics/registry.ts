/**
 * The Prometheus registry of one app. Never prom-client's global default registry: tests and
 * several apps in one process each get their own, so metric names never clash.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

export type { Registry } from 'prom-client';

export interface RegistryOptions {
  /** prom-client's default process metrics (CPU, memory, event loop lag, GC, handles). */
  readonly processMetrics?: boolean;
}

/** A fresh registry, with the process metrics unless told otherwise. */
export function createRegistry(options: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Buckets in seconds from 1 ms to 10 s: a script's reply and an HTTP answer both fit. */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
