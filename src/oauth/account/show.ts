/**
 * GET {issuer}/account: for a signed-in browser, the applications holding grants with a
 * button to revoke each, the password change form and sign-out; otherwise the page's own
 * sign-in form. Confirmations after a POST come back as fixed codes (`done=`) or as the id
 * of a grant just revoked (`revoked=`), which is shown only when it is this user's and revoked:
 * nothing the query says is echoed.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { queryOf } from '../../http/form.js';
import type { OAuthContext } from '../context.js';
import { parseCookies } from '../session/cookies.js';
import { readSession } from '../session/session.js';
import { accountCsrf, browserId } from './csrf.js';
import { accountLoginPage, accountPage } from '../pages/account.js';

/** Confirmations after a redirect, by code. */
const DONE: Readonly<Record<string, string>> = Object.freeze({
  __proto__: null,
  password: 'Your password was changed. Every application was signed out of your account: sign in to them again with the new password.',
  signedout: 'You are signed out.',
} as unknown as Record<string, string>);

export function showAccountEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const query = queryOf(req);
    const cookies = parseCookies(req.headers.cookie);
    const browser = browserId(ctx.host, cookies, reply);
    const session = await readSession(ctx, cookies);
    const done = query['done'] === undefined ? undefined : DONE[query['done']];
    if (session === null) return accountLoginPage(ctx, reply, { csrf: accountCsrf(ctx.host, browser, null), notice: done });
    let notice = done;
    const revoked = query['revoked'];
    if (revoked !== undefined && revoked.length <= 64) {
      const grant = await ctx.store.getGrant(revoked);
      if (grant !== null && grant.host === ctx.host.host && grant.user === session.user && grant.revokedAt !== null) {
        notice = `${grant.clientName} can no longer use your account.`;
      }
    }
    const grants = await ctx.store.listGrants(ctx.host.host, session.user);
    return accountPage(ctx, reply, { user: session.user, grants, csrf: accountCsrf(ctx.host, browser, session.user), notice });
  };
}
