/**
 * grant_type=authorization_code at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6). The
 * client is already authenticated (endpoints/token.ts):
 *  - the code is consumed atomically; a second use revokes the grant and everything it issued
 *    (RFC 6749 §4.1.2);
 *  - it must be this client's, for this redirect_uri (or none, when the authorization request
 *    named none), unexpired, with a code_verifier that
 *    hashes to its challenge, and its grant must not be revoked.
 */
import type { AuthenticatedClient } from '../clients/authenticate.js';
import type { OAuthContext } from '../context.js';
import type { GrantRequest } from './grant.js';
import { invalidGrant, invalidRequest, unauthorizedClient } from '../errors.js';
import { verifyPkce } from '../authorize/pkce.js';
import { idTokenFor } from '../oidc/id-token.js';
import { mintTokens, type TokenResponse } from '../tokens/issue.js';
import { hashSecret } from '../tokens/secrets.js';

const grant = (why: string) => invalidGrant(undefined, new Error(why));

export async function authorizationCodeGrant(ctx: OAuthContext, client: AuthenticatedClient, body: Record<string, string>, req: GrantRequest): Promise<TokenResponse> {
  if (!client.metadata.grant_types.includes('authorization_code')) throw unauthorizedClient();
  const code = body['code'];
  const verifier = body['code_verifier'];
  if (code === undefined) throw invalidRequest('code is required');
  if (verifier === undefined) throw invalidRequest('code_verifier is required (PKCE)');
  const now = Date.now();
  const hash = hashSecret(code);
  // Read first, redeem last: the bindings are checked before anything is written, and the
  // redemption (consume, save tokens, touch the grant) is one commit.
  // The code and its grant in one read.
  const found = await ctx.store.findCodeWithGrant(hash);
  if (found === null) throw grant('unknown code');
  const { code: c, grant: g } = found;
  if (c.clientHash !== client.clientHash) throw grant('code of another client');
  if (c.consumedAt !== null) return replayed(ctx, c.grantId, now);
  const bad =
    c.expiresAt <= now ? 'code expired'
    : !redirectUriMatches(body['redirect_uri'], c.redirectUri, client) ? 'redirect_uri differs from the authorization request'
    : !verifyPkce(verifier, c.codeChallenge) ? 'code_verifier does not match the code_challenge'
    : null;
  if (bad !== null) {
    // A failed attempt spends the code all the same: it is single-use (RFC 6749 §4.1.2).
    await ctx.store.consumeCode(hash, now);
    throw grant(bad);
  }
  if (g.revokedAt !== null) throw grant('grant revoked');
  const jwt = req.resource === null ? null : { resource: req.resource, user: g.user, generation: g.generation };
  const minted = mintTokens(ctx, client, g.id, c.scope, now, { jwt });
  const redeemed = await ctx.store.redeemCode(hash, now, minted.records);
  if (redeemed.status === 'revoked' || redeemed.status === 'missing') throw grant('grant revoked');
  if (redeemed.status === 'reused') return replayed(ctx, c.grantId, now);
  const idToken = await idTokenFor(ctx, { grant: g, clientId: client.clientId, scope: c.scope, nonce: c.nonce });
  return idToken === undefined ? minted.response : { ...minted.response, id_token: idToken };
}

/**
 * RFC 6749 §4.1.3: redirect_uri is required, and must be identical, when the authorization
 * request included it. A code from a request without one (recorded as '', authorize/issue-code.ts) takes
 * none, or the client's only registered URI, which is where it was sent.
 */
function redirectUriMatches(given: string | undefined, bound: string, client: AuthenticatedClient): boolean {
  if (bound !== '') return given === bound;
  const only = client.metadata.redirect_uris.length === 1 ? client.metadata.redirect_uris[0] : undefined;
  return given === undefined || given === only;
}

/** A replayed code: whoever holds it, everything it issued is revoked (RFC 6749 §4.1.2). */
async function replayed(ctx: OAuthContext, grantId: string, now: number): Promise<never> {
  await ctx.store.revokeGrant(grantId, now);
  ctx.log.warn({ grant: grantId }, 'authorization code replayed; grant revoked');
  throw grant('code already used');
}
