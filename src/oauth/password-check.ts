/**
 * A password check through the auth script (`auth`), for every sign-in form (authorization,
 * device, account page), the password grant and the current password before a change: the
 * same throttling as every face (accounts/), and errors told apart from a "no" (DESIGN.md
 * engine rule 7).
 */
import { classify, errorCode, retryAfterMs, type FailureClass } from '../accounts/outcome.js';
import type { OAuthContext } from './context.js';

export type PasswordCheck =
  /** `generation`: the account's, read before the check (bound into the session or grant it buys). */
  | { readonly result: 'ok'; readonly generation: number }
  /** A "no", or a password that cannot be sent (it cannot be right either). */
  | { readonly result: 'wrong' }
  | { readonly result: 'throttled'; readonly retryAfterMs: number }
  /** The answer is unknown (timeout, crash, overload...): a temporary failure, never a yes. */
  | { readonly result: 'unavailable' };

/**
 * What a password check answers for each failure class (accounts/outcome.ts). A sign-in form and
 * the password grant can say "wrong", "wait" or "try again later" (RFC 6749 §5.2 invalid_grant
 * for the first two; temporarily_unavailable, RFC 6749 §4.1.2.1, for the last): an answer that
 * is not known is never "wrong", so the user is not sent to reset a password that may be right,
 * and never "ok".
 */
const CHECK_RESULTS: Readonly<Record<FailureClass, Exclude<PasswordCheck['result'], 'ok'>>> = {
  wrong: 'wrong',
  // A password that cannot be sent to the script (a line break: DESIGN.md engine rule 2) cannot be right either.
  invalid: 'wrong',
  throttled: 'throttled',
  // No script for the host: no password can be checked here. PasswordCheck has no result of its
  // own for it, and "wrong" would blame a password that was never checked.
  unsupported: 'unavailable',
  temporary: 'unavailable',
  internal: 'unavailable',
};

export async function checkPassword(ctx: OAuthContext, user: string, password: string, address: string): Promise<PasswordCheck> {
  try {
    // Read first: should the name be removed or registered again while the script answers,
    // what this check buys is bound to the generation that ended, hence void.
    const generation = await ctx.store.accountGeneration(ctx.host.host, user);
    const ok = await ctx.accounts.query({ command: 'auth', user, host: ctx.host.host, password }, { address });
    return ok ? { result: 'ok', generation } : { result: 'wrong' };
  } catch (err) {
    const result = CHECK_RESULTS[classify(err)];
    if (result === 'throttled') return { result, retryAfterMs: retryAfterMs(err) };
    if (result === 'unavailable') ctx.log.warn({ code: errorCode(err), user }, 'password could not be checked');
    return { result };
  }
}

/** The Retry-After value (seconds) for a throttled attempt. */
export function retryAfter(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * What a sign-in form answers for a failed check: HTTP status and the message shown; a 429
 * gets its Retry-After header on `reply` (RFC 6585 §4).
 */
export function signInRefusal(check: Exclude<PasswordCheck, { result: 'ok' }>, reply: { header(name: string, value: string): unknown }): { status: number; message: string } {
  switch (check.result) {
    case 'wrong':
      return { status: 401, message: 'Wrong username or password.' };
    case 'throttled':
      reply.header('retry-after', retryAfter(check.retryAfterMs));
      return { status: 429, message: 'Too many failed attempts. Try again later.' };
    case 'unavailable':
      return { status: 503, message: 'Sign-in is temporarily unavailable. Try again in a moment.' };
  }
}
