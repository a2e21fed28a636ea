/**
 * POST /oauth2/authorize/login: the login form. CSRF token first (bound to this browser and
 * this request), then the request token (nothing the user can edit is trusted), then the
 * username, prepared as the XMPP server would, and the password, checked by the auth script
 * with the same throttling as every face. Success sets the session cookie and answers 303
 * to the consent page (POST-redirect-GET).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientDisplay } from '../clients/identity.js';
import type { OAuthContext } from '../context.js';
import { checkPassword, signInRefusal } from '../password-check.js';
import { csrfToken, rotatedCsrfCookie } from '../session/csrf.js';
import { issueSession, sessionCookie } from '../session/session.js';
import { prepareUsername, stripOwnHost } from '../session/username.js';
import { readFormRequest } from './form-request.js';
import { loginPage } from '../pages/authorize.js';

export function loginEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const form = await readFormRequest(ctx, req, reply);
    if (form === null) return reply;
    const { body, requestToken } = form;
    const clientName = clientDisplay(form.client, form.request.redirect_uri).name;
    const csrf = csrfToken(ctx.host, form.browser, requestToken);
    const typed = body['username'] ?? '';
    const again = (status: number, error: string) => loginPage(ctx, reply, { status, clientName, request: requestToken, csrf, username: typed, error });

    const prepared = prepareUsername(stripOwnHost(typed, ctx.host.host));
    if (!prepared.ok) return again(400, prepared.message);
    const check = await checkPassword(ctx, prepared.user, body['password'] ?? '', req.ip);
    if (check.result !== 'ok') {
      const { status, message } = signInRefusal(check, reply);
      return again(status, message);
    }
    const session = await issueSession(ctx.host, { user: prepared.user, authTime: Math.floor(Date.now() / 1000), generation: check.generation });
    ctx.log.info({ user: prepared.user, client: clientName }, 'user signed in');
    return reply
      .code(303)
      .header('set-cookie', [sessionCookie(ctx.host, session), rotatedCsrfCookie(ctx.host)])
      .header('location', `${ctx.host.basePath}/oauth2/authorize/consent?request=${encodeURIComponent(requestToken)}`)
      .send();
  };
}
