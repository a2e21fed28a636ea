/**
 * unknown-command: a command the script does not know must be answered 0, so that the
 * engine stays in step. Ignoring it leaves the query waiting for its timeout (and the
 * process killed); crashing on it costs a restart per query.
 */
import { randomPassword, randomUser, unknownCommand } from '../queries.js';
import { answer, type Probe } from './probe.js';

export const unknownCommandProbe: Probe = {
  id: 'unknown-command',
  needs: 'replies',
  async run(ctx) {
    const q = unknownCommand(randomUser(), ctx.host, randomPassword());
    if ((await answer(ctx, this.id, q)) === true) {
      ctx.findings.add(this.id, 'fail', `answered 1 to ${q.what}: anything not understood must be 0`, this.id);
    }
    return { note: `answered 0 to ${q.what}` };
  },
};
