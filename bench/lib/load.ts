/** Closed-loop load: `concurrency` clients, each sending its next query when the last returns. */

export interface LoadResult {
  count: number;
  seconds: number;
  latenciesMs: number[];
}

/**
 * Run until `maxCount` operations or `maxMs` elapsed, whichever first (every loop is bounded
 * in count and time).
 */
export async function closedLoop(
  concurrency: number,
  op: (client: number) => Promise<unknown>,
  limits: { maxCount: number; maxMs: number; recordLatency?: boolean },
): Promise<LoadResult> {
  const latencies: number[] = [];
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + limits.maxMs;
  const client = async (id: number): Promise<void> => {
    while (started < limits.maxCount && performance.now() < deadline) {
      started++;
      const s = performance.now();
      await op(id);
      if (limits.recordLatency) latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)));
  return { count: started, seconds: (performance.now() - t0) / 1000, latenciesMs: latencies };
}
