/**
 * POST {issuer}/account/login: the account page's own sign-in. In order: the CSRF token
 * (bound to this browser, purpose "account"), the username prepared as the XMPP server would,
 * the password checked by the auth script with the same throttling as every face; then the
 * session cookie and 303 to the account page (POST-redirect-GET). A refusal shows the form
 * again with the reason announced.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formField } from '../../http/form.js';
import type { OAuthContext } from '../context.js';
import { parseCookies } from '../session/cookies.js';
import { browserOf, rotatedCsrfCookie } from '../session/csrf.js';
import { issueSession, sessionCookie } from '../session/session.js';
import { prepareUsername, stripOwnHost } from '../session/username.js';
import { checkPassword, retryAfter } from '../password-check.js';
import { accountCsrf, checkAccountCsrf } from './csrf.js';
import { formOf } from '../../http/form.js';
import { formExpired } from './gate.js';
import { accountLoginPage, accountPath } from '../pages/account.js';

export function accountLoginEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const cookies = parseCookies(req.headers.cookie);
    const form = formOf(req);
    if (!checkAccountCsrf(ctx.host, cookies, null, form['csrf'])) return formExpired(ctx, reply);
    const typed = formField(form, 'username');
    const csrf = accountCsrf(ctx.host, browserOf(ctx.host, cookies)!, null);
    const again = (status: number, error: string) => accountLoginPage(ctx, reply, { status, csrf, username: typed, error });

    const prepared = prepareUsername(stripOwnHost(typed, ctx.host.host));
    if (!prepared.ok) return again(400, prepared.message);
    const check = await checkPassword(ctx, prepared.user, formField(form, 'password'), req.ip);
    switch (check.result) {
      case 'ok':
        break;
      case 'wrong':
        return again(401, 'Wrong username or password.');
      case 'throttled':
        reply.header('retry-after', retryAfter(check.retryAfterMs));
        return again(429, 'Too many failed attempts. Try again later.');
      case 'unavailable':
        return again(503, 'Sign-in is temporarily unavailable. Try again in a moment.');
    }
    const session = await issueSession(ctx.host, { user: prepared.user, authTime: Math.floor(Date.now() / 1000), generation: check.generation });
    ctx.log.info({ user: prepared.user }, 'user signed in to the account page');
    return reply.code(303).header('set-cookie', [sessionCookie(ctx.host, session), rotatedCsrfCookie(ctx.host)]).header('location', accountPath(ctx)).send();
  };
}
