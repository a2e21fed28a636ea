/**
 * HTTP metrics: requests by route pattern, method and status, and their latency. The route
 * is the pattern fastify matched (`/auth/check_password`), never the URL: a query string may
 * hold a password. Requests matching no route share the route label `unmatched`.
 */
import { Counter, Histogram } from 'prom-client';
import { LATENCY_BUCKETS, type Registry } from './registry.js';

export const UNMATCHED_ROUTE = 'unmatched';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The method as a label: any other verb a client invents is `OTHER` (bounded cardinality). */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'OTHER';
}

export interface HttpMetrics {
  /** Record one response; `route` is a pattern or UNMATCHED_ROUTE, `method` a methodLabel(). */
  observe(route: string, method: string, status: number, seconds: number): void;
}

export function httpMetrics(registry: Registry): HttpMetrics {
  const requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Time from receiving an HTTP request to the end of its response, by route pattern and method.',
    labelNames: ['route', 'method'] as const,
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
  });
  // Status codes as strings, made once (the hot path allocates only the label objects).
  const statuses: string[] = [];
  for (let s = 0; s < 600; s++) statuses.push(String(s));
  return {
    observe(route, method, status, seconds) {
      requests.inc({ route, method, status: statuses[status] ?? String(status) });
      duration.observe({ route, method }, seconds);
    },
  };
}
