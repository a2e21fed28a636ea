/**
 * Bearer token use at a protected resource (RFC 6750), as the UserInfo endpoint needs it
 * (OpenID Connect Core §5.3.1, §5.3.3):
 *  - the token comes in the Authorization header (§2.1; the scheme is case-insensitive,
 *    RFC 9110 §11.1) or, in a POST, in a form body's `access_token` (§2.2);
 *  - never in the query (§2.3, §5.3: a URI leaks through logs and Referer): invalid_request;
 *  - two methods at once are an invalid_request (§2: "MUST NOT use more than one method");
 *  - failures carry `WWW-Authenticate: Bearer` (§3): no error code when the request had no
 *    credentials at all (§3.1), else error and error_description, and the scope needed for
 *    insufficient_scope.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formOf, queryOf } from '../../http/form.js';
import type { OAuthContext } from '../context.js';
import { invalidRequest, isOAuthError } from '../errors.js';
import { edgeError, renderError } from '../respond/render-error.js';

/** RFC 6750 §2.1 b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The request had no credentials at all (RFC 6750 §3.1: answer without an error code). */
export class NoBearerToken extends Error {
  override readonly name = 'NoBearerToken';
}

/** The access token of a request; throws NoBearerToken or an invalid_request OAuthError. */
export function bearerToken(req: FastifyRequest): string {
  const header = req.headers.authorization;
  if (Object.hasOwn(queryOf(req), 'access_token')) {
    throw invalidRequest('access tokens are not accepted in the query string');
  }
  const inBody = req.method === 'POST' ? formOf(req)['access_token'] : undefined;
  if (header !== undefined && inBody !== undefined) {
    throw invalidRequest('the access token must be sent in one way only');
  }
  if (header !== undefined) {
    const m = BEARER.exec(header);
    if (m === null) {
      if (/^Bearer(\s|$)/i.test(header)) throw invalidRequest('malformed Bearer credentials');
      throw new NoBearerToken('unsupported authorization scheme');
    }
    return m[1]!;
  }
  if (inBody !== undefined) {
    if (inBody === '') throw invalidRequest('access_token is empty');
    return inBody;
  }
  throw new NoBearerToken('no access token');
}

/** The RFC 6750 §3 error response: status, WWW-Authenticate and a JSON body. */
export function sendBearerError(ctx: OAuthContext, reply: FastifyReply, err: unknown, scope: string): FastifyReply {
  const realm = `Bearer realm="${ctx.host.issuer}"`;
  err = edgeError(err);
  if (err instanceof NoBearerToken) {
    return reply.code(401).header('www-authenticate', realm).send();
  }
  if (isOAuthError(err) && err.expose && (err.error === 'invalid_request' || err.error === 'invalid_token' || err.error === 'insufficient_scope')) {
    // Descriptions are limited to the RFC 6749 §5.2 set, which has no '"' or '\': safe to quote.
    let challenge = `${realm}, error="${err.error}", error_description="${err.description}"`;
    if (err.error === 'insufficient_scope') challenge += `, scope="${scope}"`;
    reply.header('www-authenticate', challenge);
  }
  // Not respond/send-error.ts's sendOAuthError: its 401 challenge is the token endpoint's Basic one.
  const { status, body } = renderError(err);
  if (!isOAuthError(err) || !err.expose) ctx.log.error({ err: (err as Error).message }, 'UserInfo request failed');
  else if (err.cause !== undefined) ctx.log.info({ error: err.error, cause: (err.cause as Error).message }, 'bearer token refused');
  return reply.code(status).send(body);
}
