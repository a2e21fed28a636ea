/**
 * POST /oauth2/device/login: the shared sign-in form (login.html) inside the device flow.
 * CSRF token first (bound to this browser and this device request), then the request token
 * (the device must still be pending), then the username, prepared as the XMPP server would,
 * and the password, checked by the auth script with the same throttling as every face.
 * Success sets the same session cookie as the authorization code flow and answers 303 to the
 * consent step (POST-redirect-GET).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formField, formOf } from '../../http/form.js';
import { clientDisplay } from '../clients/identity.js';
import type { OAuthContext } from '../context.js';
import { checkPassword, signInRefusal } from '../password-check.js';
import { lookupClient } from '../clients/lookup.js';
import { parseCookies } from '../session/cookies.js';
import { browserOf, checkCsrf, csrfToken, rotatedCsrfCookie } from '../session/csrf.js';
import { issueSession, sessionCookie } from '../session/session.js';
import { prepareUsername, stripOwnHost } from '../session/username.js';
import { consentLocation } from './consent.js';
import { deviceErrorPage, deviceLoginPage } from '../pages/device.js';
import { pendingDevice } from './request.js';

export function loginEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const cookies = parseCookies(req.headers.cookie);
    const form = formOf(req);
    const request = formField(form, 'request');
    if (!checkCsrf(ctx.host, browserOf(ctx.host, cookies), request, formField(form, 'csrf'))) {
      return deviceErrorPage(ctx, reply, 403, 'Form expired', 'This form is no longer valid. Enter the code from your device again.');
    }
    const device = await pendingDevice(ctx, request, Date.now());
    if (device === null) {
      return deviceErrorPage(ctx, reply, 400, 'Request expired', 'This request has expired or was already answered. Enter the code from your device again.');
    }
    let clientName: string;
    try {
      clientName = clientDisplay((await lookupClient(ctx.host, device.clientId)).metadata, null).name;
    } catch {
      return deviceErrorPage(ctx, reply, 400, 'Unknown application', 'The application is no longer registered with this server.');
    }
    const csrf = csrfToken(ctx.host, browserOf(ctx.host, cookies)!, request);
    const typed = formField(form, 'username');
    const again = (status: number, error: string) => deviceLoginPage(ctx, reply, { status, clientName, request, csrf, username: typed, error });

    const prepared = prepareUsername(stripOwnHost(typed, ctx.host.host));
    if (!prepared.ok) return again(400, prepared.message);
    const check = await checkPassword(ctx, prepared.user, formField(form, 'password'), req.ip);
    if (check.result !== 'ok') {
      const { status, message } = signInRefusal(check, reply);
      return again(status, message);
    }
    const session = await issueSession(ctx.host, { user: prepared.user, authTime: Math.floor(Date.now() / 1000), generation: check.generation });
    ctx.log.info({ user: prepared.user, client: clientName }, 'user signed in');
    return reply.code(303).header('set-cookie', [sessionCookie(ctx.host, session), rotatedCsrfCookie(ctx.host)]).header('location', consentLocation(ctx, request)).send();
  };
}
