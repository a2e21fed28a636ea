/** The shape of a probe, and the helpers every probe uses to ask and judge. */
import type { ProbeContext } from '../context.js';
import type { FindingId } from '../findings.js';
import type { ProbeQuery } from '../queries.js';

/**
 * What a probe needs to be worth running: `start` (the program starts and stays up) or
 * `replies` (it also answers an ordinary query). Without it the probe is skipped rather than
 * waiting out a timeout that the baseline already reported.
 */
export type Needs = 'start' | 'replies';

export interface ProbeReturn {
  /** One line for the report when the probe passed ("200 replies in 12 ms"). */
  readonly note?: string;
  /** Why the probe did not run. */
  readonly skipped?: string;
  /** What later probes can no longer rely on (set by the baseline). */
  readonly broken?: Needs;
}

export interface Probe {
  /** Also the finding id of its own failures. */
  readonly id: FindingId;
  readonly needs: Needs;
  run(ctx: ProbeContext): Promise<ProbeReturn>;
}

/** Ask, file any anomaly, and return the answer (null when there was no valid one). */
export async function answer(ctx: ProbeContext, probe: FindingId, q: ProbeQuery): Promise<boolean | null> {
  const o = await ctx.ask(probe, q);
  if (o.anomaly !== null) ctx.file(probe, o.anomaly);
  return o.answer;
}

/**
 * A query that must be answered 0. A 1 to auth of an unknown user is the critical
 * `random-user-accepted` wherever it shows; a 1 to the known user's wrong password is the
 * probe's own failure (the script mangles that kind of password into the right one); a 1 to
 * isuser of an unknown user is the warning `random-user-exists`.
 */
export async function mustRefuse(ctx: ProbeContext, probe: FindingId, q: ProbeQuery, known: boolean): Promise<void> {
  if ((await answer(ctx, probe, q)) !== true) return;
  if (q.password === undefined) {
    ctx.findings.add('random-user-exists', 'warn', `answered 1 to ${q.what}: every user seems to exist`, probe);
  } else if (known) {
    ctx.findings.add(probe, 'fail', `answered 1 to ${q.what}: a wrong password was accepted`, probe);
  } else {
    ctx.findings.add('random-user-accepted', 'fail', `answered 1 to ${q.what}: anyone could log in as anyone`, probe);
  }
}

/** The user whose auth a probe tries: the known one when given (its wrong passwords must fail). */
export function subject(ctx: ProbeContext, unknownUser: string): { user: string; host: string; known: boolean } {
  const a = ctx.account;
  return a !== undefined ? { user: a.user, host: a.host, known: true } : { user: unknownUser, host: ctx.host, known: false };
}
