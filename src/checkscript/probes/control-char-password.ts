/**
 * control-char-password: a password may hold any character but CR, LF and NUL (the engine
 * refuses those). ETX, XON/XOFF and ESC once stalled or cut input behind a pty; Python's
 * `str.strip()` and `splitlines()` treat \x0b, \x0c and \x1c-\x1f as whitespace or line ends,
 * so "PASSWORD\x1f" can become the right password, or one query two.
 */
import { auth, randomPassword, randomUser, type ProbeQuery } from '../queries.js';
import { mustRefuse, subject, type Probe } from './probe.js';

const MIXED = 'c\x01\x03\x08\t\x0b\x0c\x11\x13\x1b[0m\x1c\x1d\x1e\x1f\x7fd';

export const controlCharPassword: Probe = {
  id: 'control-char-password',
  needs: 'replies',
  async run(ctx) {
    const { user, host, known } = subject(ctx, randomUser());
    const who = known ? 'the given account' : 'an unknown user';
    const qs: ProbeQuery[] = [
      auth(user, host, `${MIXED}${randomPassword()}`, ctx.limits, `auth of ${who} with a password holding \\x01-\\x1f and \\x7f`),
    ];
    if (ctx.account !== undefined) {
      const pw = ctx.account.password;
      for (const [pass, shown] of [
        [`${pw}\t`, 'its password followed by \\t'],
        [`${pw}\x0b`, 'its password followed by \\x0b'],
        [`${pw}\x1f`, 'its password followed by \\x1f'],
        [`\x03${pw}`, '\\x03 followed by its password'],
      ] as const) {
        qs.push(auth(user, host, pass, ctx.limits, `auth of ${who} with ${shown}`));
      }
    }
    for (const q of qs) await mustRefuse(ctx, this.id, q, known);
    return { note: `${qs.length} password${qs.length === 1 ? '' : 's'} with control characters answered 0` };
  },
};
