/**
 * utf8-password: queries are UTF-8. A script that decodes them as ASCII crashes; one that
 * drops what it cannot decode turns "PASSWORD€" into the right password. Non-ASCII user
 * names must be looked up, not crash either.
 */
import { auth, isuser, randomPassword, randomUser, type ProbeQuery } from '../queries.js';
import { mustRefuse, subject, type Probe } from './probe.js';

export const utf8Password: Probe = {
  id: 'utf8-password',
  needs: 'replies',
  async run(ctx) {
    const { user, host, known } = subject(ctx, randomUser());
    const who = known ? 'the given account' : 'an unknown user';
    const qs: ProbeQuery[] = [auth(user, host, `pässwörd€🔑${randomPassword()}`, ctx.limits, `auth of ${who} with the password "pässwörd€🔑..."`)];
    if (ctx.account !== undefined) {
      qs.push(auth(user, host, `${ctx.account.password}ä€`, ctx.limits, `auth of ${who} with its password followed by "ä€"`));
    }
    qs.push(isuser(`ünïcødé-${randomUser()}`, ctx.host, ctx.limits, 'isuser of an unknown user named "ünïcødé-..."'));
    for (const q of qs) await mustRefuse(ctx, this.id, q, known);
    return { note: `${qs.length} UTF-8 queries answered 0` };
  },
};
