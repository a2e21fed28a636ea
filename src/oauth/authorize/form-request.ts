/**
 * The first steps of every POST of the authorization pages, in order: the CSRF token must
 * match this browser's cookie and the request token it was made for; the request token must
 * be ours and unexpired (nothing the user can edit is trusted); its client must still be valid.
 * On failure the error page is sent and null returned.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formOf, type Form } from '../../http/form.js';
import type { OAuthContext } from '../context.js';
import type { ClientMetadata } from '../registration/metadata.js';
import { lookupClient } from '../clients/lookup.js';
import { parseCookies } from '../session/cookies.js';
import { browserOf, checkCsrf } from '../session/csrf.js';
import { readRequestToken, type AuthorizationRequest } from '../session/request-token.js';
import { errorPage } from '../pages/layout.js';

export interface FormRequest {
  readonly body: Form;
  readonly cookies: Record<string, string>;
  /** This browser's CSRF cookie (checked). */
  readonly browser: string;
  readonly requestToken: string;
  readonly request: AuthorizationRequest;
  readonly client: ClientMetadata;
}

export async function readFormRequest(ctx: OAuthContext, req: FastifyRequest, reply: FastifyReply): Promise<FormRequest | null> {
  const body = formOf(req);
  const cookies = parseCookies(req.headers.cookie);
  const requestToken = body['request'] ?? '';
  const browser = browserOf(ctx.host, cookies);
  if (!checkCsrf(ctx.host, browser, requestToken, body['csrf'])) {
    errorPage(ctx, reply, 403, 'Form expired', 'This form is no longer valid. Go back to the application and start again.');
    return null;
  }
  const request = await readRequestToken(ctx.host, requestToken);
  if (request === null) {
    errorPage(ctx, reply, 400, 'Form expired', 'This request has expired. Go back to the application and start again.');
    return null;
  }
  try {
    const client = (await lookupClient(ctx.host, request.client_id)).metadata;
    return { body, cookies, browser: browser!, requestToken, request, client };
  } catch {
    errorPage(ctx, reply, 400, 'Unknown application', 'The application is no longer registered with this server.');
    return null;
  }
}
