/**
 * reply-format, the baseline: start the script, expect silence, ask one ordinary query
 * (`isuser` of an unknown user), expect exactly one well-formed reply and silence after it.
 * Whatever goes wrong here goes wrong for every query, so it is filed under the general ids
 * (exited, reply-timeout, reply-format, extra-reply, unsolicited-output) and later probes
 * file the same trouble there too.
 */
import { how } from '../context.js';
import { quoteText, showReply } from '../excerpt.js';
import { isuser, randomUser } from '../queries.js';
import type { Probe } from './probe.js';

export const baseline: Probe = {
  id: 'reply-format',
  needs: 'start',
  async run(ctx) {
    const s = await ctx.fresh();
    await s.untilIdle(ctx.startMs);
    // The engine writes its first query as soon as the process exists: anything printed at
    // start would be read as the answer to it (Prosody's pty echo made every answer shift).
    await s.until(() => s.ended || s.stdoutBytes > 0, ctx.quietMs);
    if (s.spawnError !== null) {
      ctx.fileBaseline(this.id, ctx.spawnFailed(s));
      return { broken: 'start' };
    }
    if (s.stdoutBytes > 0) {
      await s.sleep(ctx.settleMs); // let the banner finish, to show it whole
      const bytes = s.tail(Math.min(s.stdoutBytes, 64));
      const shown = ctx.protocolName === 'ejabberd' ? showReply(bytes, 'ejabberd', ctx.secrets) : quoteText(bytes, ctx.secrets);
      ctx.findings.add(
        'unsolicited-output',
        'fail',
        `wrote ${s.stdoutBytes} bytes to stdout at start, before any query (${shown}): the engine would read them as the reply to its first query`,
        this.id,
      );
      ctx.chattyStart = true;
      s.tainted = true;
    } else if (s.ended) {
      ctx.fileBaseline(this.id, { kind: 'exited', detail: `exited at start (${how(s.exit)}) before any query${ctx.stderrHint(s)}` });
      return { broken: 'start' };
    }

    const q = isuser(randomUser(), ctx.host, ctx.limits, 'isuser of an unknown user');
    const o = await ctx.ask(this.id, q);
    if (o.anomaly !== null) {
      let a = o.anomaly;
      if (a.kind === 'timeout') {
        // The usual cause of silence on the very first query: a line-reading script waits for
        // a `\n` that no frame has, a frame-reading one for a length that text never ends.
        const other = ctx.protocolName === 'generic' ? 'ejabberd' : 'generic';
        a = { kind: a.kind, detail: `${a.detail} (if the script speaks the ${other} protocol, run with --protocol ${other})` };
      }
      ctx.fileBaseline(this.id, a);
      // Without a complete reply to an ordinary query, every later probe would only wait out
      // its timeout: skip them. A complete but wrong reply still lets them run.
      if (!o.replied) return { broken: 'replies' };
      return {};
    }
    if (o.answer === true) {
      ctx.findings.add(
        'random-user-exists',
        'warn',
        'answered 1 to isuser of an unknown user: every user seems to exist (registration and account lookups will misbehave)',
        this.id,
      );
    }
    // Silence after a reply: bytes now could only ever answer the next query.
    const after = await ctx.session();
    await after.until(() => after.units.length > 0 || after.pending > 0 || after.ended, ctx.quietMs);
    if (after.units.length > 0 || after.pending > 0) {
      const what = after.units.length > 0 ? ctx.show(after.units[0]!) : `${after.pending} bytes`;
      ctx.findings.add(
        'unsolicited-output',
        'fail',
        `wrote ${what} to stdout within ${ctx.quietMs} ms after its reply, with no query outstanding: it would answer the next query`,
        this.id,
      );
      after.tainted = true;
    } else if (after.ended) {
      ctx.fileBaseline(this.id, { kind: 'exited', detail: `exited (${how(after.exit)}) after answering one query: it must serve queries until EOF${ctx.stderrHint(after)}` });
    }
    return { note: `answered ${q.what} with ${o.answer ? '1' : '0'} in ${o.ms.toFixed(1)} ms, well-formed` };
  },
};
