/**
 * Rendering a report: plain text for people, JSON for CI. The JSON shape is stable: `ok`, and
 * `findings[].id` from the catalogue in findings.ts, are what scripts should test.
 */
import type { Report } from './run.js';

const LABEL = { pass: 'ok  ', skip: 'skip', warn: 'WARN', fail: 'FAIL', info: 'info' } as const;

/** A report as text, one probe per line, then the findings in detail. */
export function renderText(r: Report): string {
  const out: string[] = [];
  out.push(`Checked: ${showArgv(r.argv)}`);
  out.push(`Protocol: ${r.protocol}, reply timeout ${r.timeoutMs / 1000} s`);
  out.push('');
  const width = Math.max(...r.probes.map((p) => p.id.length), ...r.findings.map((f) => f.id.length));
  for (const p of r.probes) {
    let note = p.note;
    if (p.status === 'fail' || p.status === 'warn') {
      const ids = r.findings.filter((f) => f.severity !== 'info' && f.probes.includes(p.id)).map((f) => f.id);
      note = ids.length === 1 && ids[0] === p.id ? 'see below' : `see ${ids.join(', ')} below`;
    }
    out.push(`  ${LABEL[p.status]}  ${p.id.padEnd(width)}  ${note}`);
  }
  // An info finding that only repeats a probe's line (the latency figures) is not shown twice.
  const findings = r.findings.filter((f) => !(f.severity === 'info' && r.probes.some((p) => p.id === f.id && p.note === f.message)));
  if (findings.length > 0) {
    out.push('', 'Findings:');
    for (const f of findings) {
      out.push(`  ${LABEL[f.severity]}  ${f.id.padEnd(width)}  ${f.message}`);
      if (f.count > 1) {
        const where = f.probes.length > 1 ? `, in ${f.probes.join(', ')}` : '';
        out.push(`  ${' '.repeat(4)}  ${' '.repeat(width)}  (seen ${f.count} times${where})`);
      }
    }
  }
  const fails = r.findings.filter((f) => f.severity === 'fail').length;
  const warns = r.findings.filter((f) => f.severity === 'warn').length;
  const verdict = fails > 0 ? 'FAILED' : 'passed';
  out.push('');
  out.push(`Result: ${verdict}: ${plural(fails, 'failure')}, ${plural(warns, 'warning')} (${r.probes.length} probes, ${(r.ms / 1000).toFixed(1)} s)`);
  return `${out.join('\n')}\n`;
}

/** A report as one JSON document. */
export function renderJson(r: Report): string {
  const doc = {
    ok: r.ok,
    command: r.argv,
    protocol: r.protocol,
    timeoutMs: r.timeoutMs,
    ms: Math.round(r.ms),
    probes: r.probes.map((p) => ({ id: p.id, status: p.status, note: p.note, ms: Math.round(p.ms) })),
    findings: r.findings.map((f) => ({ id: f.id, severity: f.severity, message: f.message, probes: f.probes, count: f.count })),
    latency: r.latency === null ? null : Object.fromEntries(Object.entries(r.latency).map(([k, v]) => [k, k === 'count' ? v : round3(v)])),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** argv as a reader would type it; anything unusual is quoted. */
function showArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
