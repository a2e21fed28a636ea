/**
 * Running every probe against a script and collecting the report. Each probe is bounded in
 * time (every wait is capped by the reply timeout or a fixed window) and every process the
 * run started is killed before it returns, whatever happened.
 *
 * @example
 * const report = await checkScript({ argv: ['python3', 'auth.py'], protocol: 'generic', timeoutMs: 5000 });
 * if (!report.ok) process.exitCode = 1;
 */
import { ExtauthError } from '../extauth/errors.js';
import { ProbeContext, type CheckOptions, type LatencyStats } from './context.js';
import { quoteText } from './excerpt.js';
import type { Finding, FindingId } from './findings.js';
import { PROBES, type Probe } from './probes/index.js';

export type ProbeStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface ProbeResult {
  readonly id: FindingId;
  readonly status: ProbeStatus;
  /** What it saw when it passed, or why it was skipped. */
  readonly note: string;
  readonly ms: number;
}

export interface Report {
  readonly argv: readonly string[];
  readonly protocol: CheckOptions['protocol'];
  readonly timeoutMs: number;
  /** No finding of severity fail. */
  readonly ok: boolean;
  readonly probes: readonly ProbeResult[];
  readonly findings: readonly Finding[];
  readonly latency: LatencyStats | null;
  readonly ms: number;
}

export async function checkScript(options: CheckOptions, probes: readonly Probe[] = PROBES): Promise<Report> {
  if (options.argv.length === 0) throw new TypeError('argv must name a program');
  const ctx = new ProbeContext(options);
  const started = performance.now();
  const { signal } = options;
  const onAbort = (): void => void ctx.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  const results: ProbeResult[] = [];
  try {
    for (const probe of probes) {
      signal?.throwIfAborted();
      results.push(await runOne(ctx, probe));
    }
    signal?.throwIfAborted();
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await ctx.close();
  }
  summarize(ctx);
  const findings = ctx.findings.list();
  return {
    argv: options.argv,
    protocol: options.protocol,
    timeoutMs: options.timeoutMs,
    ok: !findings.some((f) => f.severity === 'fail'),
    // A probe's status is the worst finding it contributed to, wherever that was filed.
    probes: results.map((r) => (r.status === 'skip' ? r : { ...r, status: statusOf(r.id, findings) })),
    findings,
    latency: ctx.latency,
    ms: performance.now() - started,
  };
}

async function runOne(ctx: ProbeContext, probe: Probe): Promise<ProbeResult> {
  const t0 = performance.now();
  if (ctx.broken === 'start' || (ctx.broken === 'replies' && probe.needs === 'replies')) {
    const why = ctx.broken === 'start' ? 'the script does not start and stay up' : 'the script does not answer an ordinary query';
    return { id: probe.id, status: 'skip', note: why, ms: 0 };
  }
  let r;
  try {
    r = await probe.run(ctx);
  } catch (err) {
    // A probe's query that the engine itself would refuse (a small --max-query-bytes, a long
    // known account) is not sent at all: the probe cannot run, the script is not at fault.
    if (!(err instanceof ExtauthError && err.code === 'ERR_EXTAUTH_INVALID_INPUT')) throw err;
    return { id: probe.id, status: 'skip', note: `its queries cannot be sent: ${err.message}`, ms: performance.now() - t0 };
  }
  if (r.broken !== undefined) ctx.broken = r.broken;
  const ms = performance.now() - t0;
  if (r.skipped !== undefined) return { id: probe.id, status: 'skip', note: r.skipped, ms };
  return { id: probe.id, status: 'pass', note: r.note ?? '', ms };
}

function statusOf(probe: FindingId, findings: readonly Finding[]): ProbeStatus {
  let status: ProbeStatus = 'pass';
  for (const f of findings) {
    if (!f.probes.includes(probe)) continue;
    if (f.severity === 'fail') return 'fail';
    if (f.severity === 'warn') status = 'warn';
  }
  return status;
}

/** Facts seen across the whole run. */
function summarize(ctx: ProbeContext): void {
  let lines = 0;
  let bytes = 0;
  let first = '';
  for (const s of ctx.sessions) {
    lines += s.stderr.lines;
    bytes += s.stderr.bytes;
    if (first === '' && s.stderr.first.length > 0) first = s.stderr.first[0]!;
  }
  if (bytes > 0) {
    ctx.findings.add(
      'stderr-mixed',
      'info',
      `wrote ${lines} line${lines === 1 ? '' : 's'} to stderr over ${ctx.sessions.length} run${ctx.sessions.length === 1 ? '' : 's'}, kept apart from the replies (Gatehouse logs them): the first is ${quoteText(Buffer.from(first), ctx.secrets)}`,
      'summary',
    );
  }
  if (ctx.protocolName === 'generic' && ctx.sessions.some((s) => s.sawCr) && !ctx.findings.has('reply-format', 'fail')) {
    ctx.findings.add('reply-format', 'info', 'replies end with "\\r\\n", which the protocol allows', 'summary');
  }
}
