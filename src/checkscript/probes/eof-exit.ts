/**
 * eof-exit: Gatehouse stops a script by closing its stdin (DESIGN.md rule 9), as Prosody and
 * ejabberd do. A script must then exit, promptly. One that loops on EOF spins at 100% CPU
 * until it is killed; one that ignores it lingers until SIGTERM. CPU use over the wait tells
 * the two apart.
 */
import { how, seconds } from '../context.js';
import { isuser, randomUser } from '../queries.js';
import type { Probe } from './probe.js';

export const eofExit: Probe = {
  id: 'eof-exit',
  needs: 'start',
  async run(ctx) {
    let s = await ctx.session();
    if (s.queries === 0 && ctx.broken === null) {
      // Close stdin of a script that is in its loop, as in production, not one still starting.
      await ctx.ask(this.id, isuser(randomUser(), ctx.host, ctx.limits, 'isuser of an unknown user'));
      s = await ctx.session();
    }
    if (s.spawnError !== null || s.ended) return { skipped: 'the script is not running' };
    const cpu0 = s.cpuSeconds();
    const t0 = performance.now();
    s.closeStdin();
    const exited = await s.until(() => s.exit !== null, ctx.eofTimeoutMs);
    const elapsed = performance.now() - t0;
    s.tainted = true;
    if (!exited) {
      const cpu1 = s.cpuSeconds();
      let why = '';
      if (cpu0 !== null && cpu1 !== null) {
        const pct = Math.round(((cpu1 - cpu0) / (elapsed / 1000)) * 100);
        // A spinning loop is CPU-bound; an idle wait uses next to nothing. The line is drawn
        // low so that a spinner sharing a busy machine is still recognized.
        why = pct >= 20 ? `, using ${pct}% CPU: it spins on EOF instead of exiting` : ` (${pct}% CPU): it ignores EOF`;
      }
      ctx.findings.add(this.id, 'fail', `still running ${seconds(elapsed)} after its stdin was closed${why}; Gatehouse would have to kill it`, this.id);
      return {};
    }
    await s.until(() => s.ended, 200);
    if (s.units.length > 0 || s.pending > 0) {
      ctx.findings.add('unsolicited-output', 'warn', 'wrote to stdout when its stdin was closed, with no query outstanding', this.id);
    }
    const status = how(s.exit);
    if (status !== 'code 0') ctx.findings.add(this.id, 'info', `exited with ${status} on EOF (0 is usual)${ctx.stderrHint(s)}`, this.id);
    return { note: `exited ${elapsed.toFixed(0)} ms after EOF (${status})` };
  },
};
