/**
 * POST {issuer}/account/signout: ends the user's sessions on the server, clears the session
 * cookie, then 303 to the account page. The session is a signed cookie stored nowhere, so
 * clearing it alone would leave a copy of it working for its lifetime: signing out sets the
 * user's cut-off (OAuthStore.endSessions), which every instance checks (session/session.ts), so every
 * session of the user at this host issued until now ends, in this browser and any other.
 * CSRF-checked when there is a session to end; without one there is nothing to protect.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OAuthContext } from '../context.js';
import { cookie, parseCookies } from '../session/cookies.js';
import { readSession, SESSION_COOKIE } from '../session/session.js';
import { checkAccountCsrf } from './csrf.js';
import { formOf } from '../../http/form.js';
import { formExpired } from './gate.js';
import { accountPath } from '../pages/account.js';

export function signOutEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const cookies = parseCookies(req.headers.cookie);
    const session = await readSession(ctx, cookies);
    if (session !== null) {
      if (!checkAccountCsrf(ctx.host, cookies, session.user, formOf(req)['csrf'])) return formExpired(ctx, reply);
      await ctx.store.endSessions(ctx.host.host, session.user, Date.now());
      ctx.log.info({ user: session.user }, 'user signed out');
    }
    return reply
      .code(303)
      .header('set-cookie', cookie(ctx.host, SESSION_COOKIE, '', 0, 'Lax'))
      .header('location', `${accountPath(ctx)}?done=signedout`)
      .send();
  };
}
