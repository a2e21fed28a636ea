/**
 * known-user: with --user, --host and --password, the account the operator vouches for must
 * work both ways: the right password 1, a wrong one 0, isuser 1, and isuser of an unknown
 * user on the same host 0.
 */
import { auth, isuser, randomPassword, randomUser, type ProbeQuery } from '../queries.js';
import { answer, type Probe } from './probe.js';

export const knownUser: Probe = {
  id: 'known-user',
  needs: 'replies',
  async run(ctx) {
    const a = ctx.account;
    if (a === undefined) return { skipped: 'pass --user, --host and --password to check an account that exists' };
    const cases: [ProbeQuery, boolean, string][] = [
      [auth(a.user, a.host, a.password, ctx.limits, 'auth of the given account with its password'), true, 'is the password right?'],
      [auth(a.user, a.host, randomPassword(), ctx.limits, 'auth of the given account with a wrong password'), false, 'a wrong password was accepted'],
      [isuser(a.user, a.host, ctx.limits, 'isuser of the given account'), true, 'the account should exist'],
      [isuser(randomUser(), a.host, ctx.limits, 'isuser of an unknown user on the same host'), false, 'unknown users seem to exist'],
    ];
    for (const [q, want, why] of cases) {
      const got = await answer(ctx, this.id, q);
      if (got !== null && got !== want) ctx.findings.add(this.id, 'fail', `answered ${got ? 1 : 0} to ${q.what}: ${why}`, this.id);
    }
    return { note: `right password 1, wrong password 0, isuser 1, unknown user 0` };
  },
};
