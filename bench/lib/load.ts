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

/**
 * Run `a` and `b` for `rounds` rounds each, alternating which goes first. On a shared VM the
 * machine's own speed drifts by tens of percent within seconds (neighbours, CPU frequency):
 * one long run per side compares two different machines, short interleaved rounds compare
 * both sides on the same one.
 */
export async function alternating(rounds: number, a: () => Promise<void>, b: () => Promise<void>): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      await a();
      await b();
    } else {
      await b();
      await a();
    }
  }
}
