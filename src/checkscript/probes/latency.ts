/**
 * latency: reply times over sequential queries (one in flight, as the engine sends them),
 * alternating isuser and auth of unknown users so that a script that hashes passwords on a
 * miss shows its real cost. Reported as percentiles; a p99 over half the timeout is a warning,
 * since under load such replies will start timing out.
 */
import type { LatencyStats } from '../context.js';
import { auth, isuser, randomPassword, randomUser } from '../queries.js';
import type { Probe } from './probe.js';

export const latency: Probe = {
  id: 'latency',
  needs: 'replies',
  async run(ctx) {
    const n = ctx.batchSize;
    // One unmeasured query first: a fresh process's start-up is not a reply time.
    const warm = await ctx.ask(this.id, isuser(randomUser(), ctx.host, ctx.limits, 'isuser of an unknown user'), 0);
    if (warm.anomaly !== null) {
      ctx.file(this.id, warm.anomaly);
      return {};
    }
    const times: number[] = [];
    const cap = performance.now() + Math.max(4 * ctx.timeoutMs, 10_000);
    for (let i = 0; i < n && performance.now() < cap; i++) {
      const q =
        i % 2 === 0
          ? isuser(randomUser(), ctx.host, ctx.limits, 'isuser of an unknown user')
          : auth(randomUser(), ctx.host, randomPassword(), ctx.limits, 'auth of an unknown user');
      const o = await ctx.ask(this.id, q, 0);
      if (o.anomaly !== null) {
        ctx.file(this.id, { kind: o.anomaly.kind, detail: `query ${i + 1} of ${n} sequential queries: ${o.anomaly.detail}` });
        break;
      }
      if (o.answer === true) {
        if (q.password === undefined) ctx.findings.add('random-user-exists', 'warn', `answered 1 to ${q.what}: every user seems to exist`, this.id);
        else ctx.findings.add('random-user-accepted', 'fail', `answered 1 to ${q.what}: anyone could log in as anyone`, this.id);
      }
      times.push(o.ms);
    }
    // A surplus reply to the last query would otherwise go unseen.
    const s = await ctx.session();
    await s.until(() => s.units.length > 0 || s.pending > 0, ctx.settleMs);
    if (s.units.length > 0 || s.pending > 0) {
      ctx.findings.add('extra-reply', 'fail', 'wrote more after the last of the sequential replies: one query, one reply', this.id);
      s.tainted = true;
    }
    if (times.length === 0) return {};
    const stats = percentiles(times);
    ctx.latency = stats;
    const line = `${stats.count} sequential queries: p50 ${ms(stats.p50)}, p95 ${ms(stats.p95)}, p99 ${ms(stats.p99)}, max ${ms(stats.max)}`;
    ctx.findings.add(this.id, 'info', line, this.id);
    if (stats.count < n) {
      ctx.findings.add(this.id, 'warn', `only ${stats.count} of ${n} sequential queries were answered within ${Math.max(4 * ctx.timeoutMs, 10_000) / 1000} s`, this.id);
    }
    if (stats.p99 > ctx.timeoutMs / 2) {
      ctx.findings.add(this.id, 'warn', `p99 of ${ms(stats.p99)} is over half the ${ctx.timeoutMs / 1000} s timeout: under load, replies will time out`, this.id);
    }
    return { note: line };
  },
};

/** Nearest-rank percentiles. */
export function percentiles(times: readonly number[]): LatencyStats {
  const sorted = [...times].sort((x, y) => x - y);
  const at = (p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: sorted[sorted.length - 1]! };
}

function ms(v: number): string {
  return v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(0)} ms`;
}
