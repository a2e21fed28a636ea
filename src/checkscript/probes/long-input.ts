/**
 * long-input: a 1000-byte password, a query exactly at the engine's limit
 * (external_auth_max_query_bytes, 4096 by default) and a user name of 1023 bytes (the XMPP
 * limit) must each get exactly one reply. Fixed-size read buffers cut such a query in two
 * (two replies for one query) or hang waiting for a line end they already skipped.
 */
import { auth, isuser, randomPassword, randomUser, type ProbeQuery } from '../queries.js';
import { mustRefuse, subject, type Probe } from './probe.js';

export const longInput: Probe = {
  id: 'long-input',
  needs: 'replies',
  async run(ctx) {
    const { user, host, known } = subject(ctx, randomUser());
    const who = known ? 'the given account' : 'an unknown user';
    const qs: ProbeQuery[] = [];
    const room = ctx.limits.maxQueryBytes - Buffer.byteLength(`auth:${user}:${host}:`);
    if (room >= 1000) qs.push(auth(user, host, long(1000), ctx.limits, `auth of ${who} with a 1000-byte password`));
    if (room > 0 && room !== 1000) {
      qs.push(auth(user, host, long(room), ctx.limits, `auth of ${who} with a ${ctx.limits.maxQueryBytes}-byte query (the limit)`));
    }
    const name = Math.min(ctx.limits.maxFieldBytes, ctx.limits.maxQueryBytes - Buffer.byteLength(`isuser::${ctx.host}`));
    const longUser = `${randomUser()}-${'u'.repeat(name)}`.slice(0, name);
    qs.push(isuser(longUser, ctx.host, ctx.limits, `isuser of an unknown ${name}-byte user name`));
    for (const q of qs) await mustRefuse(ctx, this.id, q, known);
    return { note: `${qs.length} long queries answered 0, up to ${ctx.limits.maxQueryBytes} bytes` };
  },
};

/** A random ASCII password of exactly `n` bytes. */
function long(n: number): string {
  let s = '';
  while (s.length < n) s += randomPassword();
  return s.slice(0, n);
}
