/**
 * back-to-back: many queries arriving in one read (a busy server's pipe does this) must all
 * be answered, one reply each, in order. Scripts that read a block and answer only its first
 * line, or that buffer their replies until exit, fail here. With a known account some of the
 * queries are about it (answered 1), so that the order of the answers is checked too: replies
 * carry no ids, order is the only link (DESIGN.md rule 3).
 */
import { seconds, type Anomaly } from '../context.js';
import { auth, isuser, randomPassword, randomUser, type ProbeQuery } from '../queries.js';
import type { Probe } from './probe.js';

export const backToBack: Probe = {
  id: 'back-to-back',
  needs: 'replies',
  async run(ctx) {
    const n = ctx.batchSize;
    const qs: ProbeQuery[] = [];
    const want: boolean[] = [];
    const a = ctx.account;
    for (let i = 0; i < n; i++) {
      if (a !== undefined && i % 5 === 2) {
        qs.push(isuser(a.user, a.host, ctx.limits, `isuser of the given account`));
        want.push(true);
      } else if (i % 2 === 0) {
        qs.push(isuser(randomUser(), ctx.host, ctx.limits, 'isuser of an unknown user'));
        want.push(false);
      } else {
        qs.push(auth(randomUser(), ctx.host, randomPassword(), ctx.limits, 'auth of an unknown user'));
        want.push(false);
      }
    }
    const out = await ctx.askMany(this.id, qs);
    const got = out.units.length;
    const sent = `${n} queries written at once`;

    const bad = out.units.find((u) => u.answer === null);
    if (bad !== undefined) {
      const k = out.units.filter((u) => u.answer === null).length;
      const kind = ctx.looksLikeDiagnostic(bad) ? 'diagnostic' : 'bad-format';
      ctx.file(this.id, { kind, detail: `answered ${sent} with ${k} invalid repl${k === 1 ? 'y' : 'ies'}, the first ${ctx.show(bad)}; the protocol allows ${ctx.allowed}` });
    }
    if (got > n || (got === n && out.pending > 0)) {
      ctx.file(this.id, { kind: 'extra', detail: `answered ${sent} with ${got} replies${out.pending > 0 ? ' and more bytes' : ''}: one query, one reply` });
      return {};
    }
    if (got < n) {
      let anomaly: Anomaly;
      if (out.ended) anomaly = { kind: 'exited', detail: `exited after answering ${got} of ${sent}` };
      else if (out.pending > 0) anomaly = { kind: 'bad-format', detail: `answered ${got} of ${sent}, then sent ${out.pending} bytes of an unfinished reply` };
      else anomaly = { kind: 'timeout', detail: `answered only ${got} of ${sent} (no further reply within ${seconds(ctx.timeoutMs)})` };
      ctx.file(this.id, anomaly);
      return {};
    }
    for (let i = 0; i < n; i++) {
      const ans = out.units[i]!.answer;
      if (ans === null || ans === want[i]) continue;
      const q = qs[i]!;
      const at = `query ${i + 1} of ${sent}`;
      if (want[i] === true) {
        ctx.findings.add(this.id, 'fail', `answered ${at} (${q.what}) with 0: replies are out of order or lost under load`, this.id);
      } else if (q.password === undefined) {
        ctx.findings.add('random-user-exists', 'warn', `answered 1 to ${q.what} (${at}): every user seems to exist`, this.id);
      } else {
        ctx.findings.add('random-user-accepted', 'fail', `answered 1 to ${q.what} (${at}): anyone could log in as anyone`, this.id);
      }
    }
    if (out.ended) {
      ctx.file(this.id, { kind: 'exited', detail: `exited right after answering ${sent}: it must serve queries until EOF` });
    }
    return { note: `${n} replies, in order, ${out.ms.toFixed(1)} ms for ${sent}` };
  },
};
