/**
 * random-user-accepted: auth of a user nobody has, with a random password, must be 0. A
 * script that says 1 here lets anyone log in as anyone: the one failure that is a bypass in
 * itself. Every other probe that asks about unknown users files a 1 here too.
 */
import { auth, randomPassword, randomUser } from '../queries.js';
import { mustRefuse, type Probe } from './probe.js';

export const randomUserAccepted: Probe = {
  id: 'random-user-accepted',
  needs: 'replies',
  async run(ctx) {
    const q = auth(randomUser(), ctx.host, randomPassword(), ctx.limits, 'auth of an unknown user with a random password');
    await mustRefuse(ctx, this.id, q, false);
    return { note: `answered 0 to ${q.what}` };
  },
};
