/**
 * POST {issuer}/account/password: change the password through the auth script. In order:
 *  1. the session and the CSRF token (gate.ts);
 *  2. the form: current password given, new password not empty and typed twice alike;
 *  3. the current password checked with `auth` (throttled like every login: a stolen session
 *     alone cannot change the password, nor guess it faster than the login form);
 *  4. `setpass` with the new one. Refused with a clear message when the script cannot set
 *     passwords (`external_auth_commands` without setpass), when the new password cannot be
 *     sent (a line break would inject a second command: DESIGN.md engine rule 2), or when
 *     the script says no;
 *  5. then every grant of the user is revoked, with their tokens (a password change is what a
 *     user does after a leak), and the session cookie is replaced; 303 to the account page.
 *     (Accounts.query's lifecycle hook, oauth/lifecycle.ts, already revoked them as it does
 *     for setpass on every face; this endpoint does it again with the cut-off of the session
 *     it issues, and for an Accounts built without the hook.)
 * When setpass reached the script but its answer is unknown (timeout, crash), the password
 * may have changed: the grants are revoked anyway, and the user is told so.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AccountsError } from '../../accounts/errors.js';
import { classify, errorCode, type FailureClass } from '../../accounts/outcome.js';
import { ExtauthError } from '../../extauth/errors.js';
import { formField } from '../../http/form.js';
import type { OAuthContext } from '../context.js';
import { issueSession, sessionCookie } from '../session/session.js';
import { checkPassword, retryAfter } from '../password-check.js';
import { accountCsrf } from './csrf.js';
import { signedInForm } from './gate.js';
import { accountPage, accountPath, type PasswordField } from '../pages/account.js';

const UNAVAILABLE = 'Password changes are temporarily unavailable. Try again in a moment.';

type SetPass = { readonly result: 'ok' } | { readonly result: 'refused'; readonly status: number; readonly message: string; readonly field: PasswordField | null; readonly uncertain?: true };

const UNCERTAIN =
  'The server did not confirm the change: your password may or may not have changed. To be safe, every application was signed out. Try the new password when you next sign in; if it is refused, the current one still works.';

type Refused = Extract<SetPass, { result: 'refused' }>;

/**
 * What the page says when setpass fails, by failure class (accounts/outcome.ts). `uncertain`
 * marks a change that may have happened: the grants are revoked anyway (module comment).
 */
const SETPASS_REFUSALS: Readonly<Record<FailureClass, (err: unknown, host: string) => Refused>> = {
  wrong: () => ({ result: 'refused', status: 400, message: 'The server refused the new password. Try a different one.', field: 'new' }),
  // Never sent: a line break would inject a second command (DESIGN.md engine rule 2).
  invalid: (err) =>
    err instanceof ExtauthError && err.field === 'query'
      ? { result: 'refused', status: 400, message: 'The new password is too long.', field: 'new' }
      : { result: 'refused', status: 400, message: 'The new password cannot contain line breaks or NUL characters.', field: 'new' },
  unsupported: (_err, host) => ({
    result: 'refused',
    status: 501,
    message: `Password changes are not available here. Ask the administrator of ${host} to change your password.`,
    field: null,
  }),
  // Only password checks are throttled (accounts.ts), never setpass.
  throttled: () => ({ result: 'refused', status: 503, message: UNAVAILABLE, field: null }),
  temporary: (err) => {
    if (err instanceof AccountsError && err.code === 'ERR_AUTH_LIFECYCLE') {
      // The password changed but the revocation that follows it failed (accounts.ts logged
      // it): this endpoint tries again, and the user is not told it went well.
      return {
        result: 'refused',
        status: 503,
        message: 'Your password was changed, but signing out every application did not complete. Change your password again in a moment to finish.',
        field: null,
        uncertain: true,
      };
    }
    // The query reached the script and its answer was lost: the password may have changed.
    if (err instanceof ExtauthError && err.sent) return { result: 'refused', status: 503, message: UNCERTAIN, field: null, uncertain: true };
    return { result: 'refused', status: 503, message: UNAVAILABLE, field: null };
  },
  internal: () => ({ result: 'refused', status: 503, message: UNAVAILABLE, field: null }),
};

/** Ask the script to set the password; every failure becomes a message for the user. */
async function setPassword(ctx: OAuthContext, user: string, password: string, address: string): Promise<SetPass> {
  let ok: boolean;
  try {
    ok = await ctx.accounts.query({ command: 'setpass', user, host: ctx.host.host, password }, { address });
  } catch (err) {
    const cls = classify(err);
    if (cls === 'temporary' || cls === 'internal') ctx.log.warn({ code: errorCode(err), user, sent: err instanceof ExtauthError ? err.sent : undefined }, 'password change failed');
    return SETPASS_REFUSALS[cls](err, ctx.host.host);
  }
  return ok ? { result: 'ok' } : SETPASS_REFUSALS.wrong(undefined, ctx.host.host);
}

export function changePasswordEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const gate = await signedInForm(ctx, req, reply);
    if (!gate.ok) return gate.reply;
    const { session, form, browser } = gate;
    const { user } = session;
    const refuse = async (status: number, message: string, field: PasswordField | null): Promise<FastifyReply> => {
      const grants = await ctx.store.listGrants(ctx.host.host, user);
      return accountPage(ctx, reply, { status, user, grants, csrf: accountCsrf(ctx.host, browser, user), passwordError: { message, field } });
    };

    const current = formField(form, 'current_password');
    const next = formField(form, 'new_password');
    if (current === '') return refuse(400, 'Enter your current password.', 'current');
    if (next === '') return refuse(400, 'Enter a new password.', 'new');
    if (next !== formField(form, 'confirm_password')) return refuse(400, 'The two new passwords do not match.', 'confirm');

    const check = await checkPassword(ctx, user, current, req.ip);
    switch (check.result) {
      case 'ok':
        break;
      case 'wrong':
        return refuse(401, 'Your current password is wrong.', 'current');
      case 'throttled':
        reply.header('retry-after', retryAfter(check.retryAfterMs));
        return refuse(429, 'Too many failed attempts. Try again later.', null);
      case 'unavailable':
        return refuse(503, UNAVAILABLE, null);
    }

    const set = await setPassword(ctx, user, next, req.ip);
    if (set.result === 'refused' && set.uncertain !== true) return refuse(set.status, set.message, set.field);
    const at = Date.now();
    const revoked = await ctx.store.revokeUserGrants(ctx.host.host, user, at);
    // Every browser signed in as this user is signed out (whoever changed the password may be
    // evicting someone who knew the old one); this one gets a new session below. When the
    // script's answer was lost, this browser is signed out too.
    await ctx.store.endSessions(ctx.host.host, user, at);
    if (set.result === 'refused') {
      ctx.log.warn({ user, revoked }, 'password change unconfirmed: every grant revoked');
      return refuse(set.status, set.message, set.field);
    }
    ctx.log.info({ user, revoked }, 'user changed password: every grant revoked, other sessions ended');
    const fresh = await issueSession(ctx.host, { user, authTime: Math.floor(at / 1000), generation: session.generation }, at);
    return reply.code(303).header('set-cookie', sessionCookie(ctx.host, fresh)).header('location', `${accountPath(ctx)}?done=password`).send();
  };
}
