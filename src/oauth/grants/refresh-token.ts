/**
 * grant_type=refresh_token at the token endpoint (RFC 6749 §6, RFC 9700 §4.14.2). The client is
 * already authenticated (endpoints/token.ts):
 *  - the token must be this client's refresh token, unexpired and unrevoked;
 *  - it is rotated: used once, replaced; a reused one revokes the grant;
 *  - a narrower `scope` may be asked, never a wider one; it narrows the new access token only:
 *    the successor refresh token keeps the scope the presented one carried, which is the
 *    grant's original scope (RFC 6749 §6: "the refresh token ... with the scope originally
 *    granted"), so a later refresh may ask for the whole scope again, and a refresh narrowed
 *    to a scope without offline_access still gets its successor.
 */
import type { TokenRecord } from '../../storage/port.js';
import type { AuthenticatedClient } from '../clients/authenticate.js';
import { parseScope } from '../consent/scopes.js';
import type { OAuthContext } from '../context.js';
import type { GrantRequest } from './grant.js';
import { invalidGrant, invalidRequest, invalidScope, unauthorizedClient } from '../errors.js';
import { mintTokens, type TokenResponse } from '../tokens/issue.js';
import { hashSecret } from '../tokens/secrets.js';

const grant = (why: string) => invalidGrant(undefined, new Error(why));

export async function refreshTokenGrant(ctx: OAuthContext, client: AuthenticatedClient, body: Record<string, string>, req: GrantRequest): Promise<TokenResponse> {
  if (!client.metadata.grant_types.includes('refresh_token')) throw unauthorizedClient();
  const presented = body['refresh_token'];
  if (presented === undefined) throw invalidRequest('refresh_token is required');
  const now = Date.now();
  const hash = hashSecret(presented);
  const found = await ctx.store.findToken(hash);
  if (found === null || found.token.kind !== 'refresh') throw grant('unknown refresh token');
  const { token, grant: g } = found;
  if (g.clientHash !== client.clientHash) throw grant('refresh token of another client');
  if (token.usedAt !== null) return reusedRefresh(ctx, g.id, now);
  if (token.revokedAt !== null || g.revokedAt !== null) throw grant('refresh token revoked');
  if (token.expiresAt <= now) throw grant('refresh token expired');
  // The refresh token's scope is the grant's original one (it never narrows, see above).
  let scope = token.scope;
  if (body['scope'] !== undefined) {
    const asked = parseScope(body['scope']);
    const held = new Set(token.scope.split(' '));
    if (asked === null || asked.length === 0 || !asked.every((s) => held.has(s))) {
      throw invalidScope('a refresh may only narrow the scope');
    }
    scope = asked.join(' ');
  }
  const jwt = req.resource === null ? null : { resource: req.resource, user: g.user, generation: g.generation };
  const minted = mintTokens(ctx, client, g.id, scope, now, { refreshScope: token.scope, jwt });
  // The presented token is spent in the same commit that stores its successors.
  const [access, successor] = minted.records as [TokenRecord, TokenRecord | undefined];
  const rotated = await ctx.store.rotateRefreshToken(hash, successor ?? null, now, [access]);
  if (rotated.status === 'revoked' || rotated.status === 'missing') throw grant('refresh token revoked');
  if (rotated.status === 'reused') return reusedRefresh(ctx, g.id, now);
  return minted.response;
}

/** A rotated refresh token used again, or lost in a race with its other use: revoke the grant. */
async function reusedRefresh(ctx: OAuthContext, grantId: string, now: number): Promise<never> {
  await ctx.store.revokeGrant(grantId, now);
  ctx.log.warn({ grant: grantId }, 'rotated refresh token reused; grant revoked');
  throw grant('refresh token already used');
}
