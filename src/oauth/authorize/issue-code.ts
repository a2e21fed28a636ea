/**
 * An approved authorization request becomes a grant and a single-use code bound to the client,
 * the redirect URI (or to its absence, RFC 6749 §4.1.3) and the PKCE challenge; then 303 to
 * the client with `code`, `state` and `iss`. Used by the consent form (Allow) and by
 * `prompt=none` when the user's consent is on record.
 */
import type { FastifyReply } from 'fastify';
import type { OAuthContext } from '../context.js';
import { createGrant } from '../consent/grant.js';
import type { ClientMetadata } from '../registration/metadata.js';
import { hashSecret, newSecret } from '../tokens/secrets.js';
import type { AuthorizationRequest } from '../session/request-token.js';
import type { Session } from '../session/session.js';
import { redirectToClient } from './redirect-to-client.js';

/** Authorization codes live two minutes (RFC 6749 §4.1.2 recommends at most ten). */
export const CODE_TTL_MS = 120_000;

export async function issueCode(ctx: OAuthContext, reply: FastifyReply, request: AuthorizationRequest, client: ClientMetadata, session: Session): Promise<FastifyReply> {
  const now = Date.now();
  const grantId = await createGrant(ctx, {
    user: session.user,
    clientId: request.client_id,
    client,
    scope: request.scope,
    authTime: session.authTime * 1000,
    generation: session.generation,
    now,
  });
  const code = newSecret();
  await ctx.store.saveCode({
    hash: hashSecret(code),
    grantId,
    clientHash: hashSecret(request.client_id),
    // '' records that the request named no redirect_uri: the token request may omit it too.
    redirectUri: request.redirect_uri_omitted === true ? '' : request.redirect_uri,
    codeChallenge: request.code_challenge,
    scope: request.scope,
    nonce: request.nonce ?? null,
    createdAt: now,
    expiresAt: now + CODE_TTL_MS,
    consumedAt: null,
  });
  ctx.log.info({ user: session.user, client: client.client_name, scope: request.scope }, 'user granted access');
  return redirectToClient(ctx, reply, request.redirect_uri, { code, state: request.state });
}
