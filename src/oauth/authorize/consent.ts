/**
 * GET /oauth2/authorize/consent shows the consent page for a signed-in browser; POST takes the
 * decision. Allow: a grant and a single-use code (issue-code.ts), then 303 to the client with
 * `code`, `state`, `iss`. Deny: 303 with `error=access_denied`: the user has signed in and seen
 * the client (its name and address, labelled unverified when nothing proves them) and chose to
 * go back to it, which RFC 9700 §4.11.2 allows ("authenticate the user first ... before
 * redirecting"), and RFC 6749 §4.1.2.1 wants the client told.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { queryOf } from '../../http/form.js';
import { clientDisplay } from '../clients/identity.js';
import type { OAuthContext } from '../context.js';
import { lookupClient } from '../clients/lookup.js';
import { csrfToken } from '../session/csrf.js';
import { readRequestToken } from '../session/request-token.js';
import { readSession, sessionFits } from '../session/session.js';
import { readFormRequest } from './form-request.js';
import { loginPage } from '../pages/authorize.js';
import { errorPage } from '../pages/layout.js';
import { redirectToClient } from './redirect-to-client.js';
import { showNext } from './endpoint.js';
import { issueCode } from './issue-code.js';

export function consentPageEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    let requestToken: string | undefined;
    try {
      requestToken = queryOf(req)['request'];
    } catch {
      requestToken = undefined;
    }
    const request = requestToken === undefined ? null : await readRequestToken(ctx.host, requestToken);
    if (request === null) return errorPage(ctx, reply, 400, 'Form expired', 'This request has expired. Go back to the application and start again.');
    let client;
    try {
      client = (await lookupClient(ctx.host, request.client_id)).metadata;
    } catch {
      return errorPage(ctx, reply, 400, 'Unknown application', 'The application is no longer registered with this server.');
    }
    return showNext(ctx, req, reply, request, requestToken!, client);
  };
}

export function consentEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const form = await readFormRequest(ctx, req, reply);
    if (form === null) return reply;
    const { body, request, client } = form;
    const session = await readSession(ctx, form.cookies);
    if (session === null) {
      return errorPage(ctx, reply, 400, 'Signed out', 'Your sign-in has expired. Go back to the application and start again.');
    }
    if (!sessionFits(session, request.auth_after)) {
      // The application asked for a recent sign-in (prompt=login, max_age): no consent before it.
      return loginPage(ctx, reply, { clientName: clientDisplay(client, request.redirect_uri).name, request: form.requestToken, csrf: csrfToken(ctx.host, form.browser, form.requestToken) });
    }
    if (body['decision'] !== 'allow') {
      ctx.log.info({ user: session.user, client: client.client_name }, 'user denied access');
      return redirectToClient(ctx, reply, request.redirect_uri, { error: 'access_denied', error_description: 'the user denied access', state: request.state });
    }
    return issueCode(ctx, reply, request, client, session);
  };
}
