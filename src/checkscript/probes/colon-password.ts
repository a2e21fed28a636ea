/**
 * colon-password: the password is everything after the third `:`, colons included. A script
 * that splits the whole line on `:` and takes the fourth field accepts "PASSWORD:anything";
 * one that takes the last field accepts "anything:PASSWORD".
 */
import { auth, randomPassword, randomUser, type ProbeQuery } from '../queries.js';
import { mustRefuse, subject, type Probe } from './probe.js';

export const colonPassword: Probe = {
  id: 'colon-password',
  needs: 'replies',
  async run(ctx) {
    const { user, host, known } = subject(ctx, randomUser());
    const qs: ProbeQuery[] = [];
    const who = known ? 'the given account' : 'an unknown user';
    if (ctx.account !== undefined) {
      const pw = ctx.account.password;
      qs.push(auth(user, host, `${pw}:${randomPassword()}`, ctx.limits, `auth of ${who} with its password followed by ":..."`));
      qs.push(auth(user, host, `${randomPassword()}:${pw}`, ctx.limits, `auth of ${who} with "...:" followed by its password`));
    }
    qs.push(auth(user, host, `a:${randomPassword()}:b:`, ctx.limits, `auth of ${who} with a password holding colons`));
    for (const q of qs) await mustRefuse(ctx, this.id, q, known);
    return { note: `${qs.length} password${qs.length === 1 ? '' : 's'} with colons answered 0` };
  },
};
