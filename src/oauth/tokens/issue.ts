/**
 * Token minting, for every grant type: tokens are random (or, for a resource configured for
 * them, JWTs: jwt-access.ts); only their hashes are stored. A refresh token is issued when the
 * client registered the refresh_token grant and the grant includes offline_access (as Prosody
 * does).
 */
import type { TokenRecord } from '../../storage/port.js';
import type { AuthenticatedClient } from '../clients/authenticate.js';
import type { OAuthContext } from '../context.js';
import { signAccessJwt, type JwtAccessTarget } from './jwt-access.js';
import { hashSecret, newSecret } from './secrets.js';

/** The body of a successful token response (RFC 6749 §5.1). */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope: string;
  readonly refresh_token?: string;
  readonly id_token?: string;
}

export interface MintOptions {
  /** The refresh token's scope (by default the access token's; a narrowed refresh passes the original). */
  readonly refreshScope?: string;
  /** A JWT access token for this resource (RFC 9068) instead of an opaque one. */
  readonly jwt?: JwtAccessTarget | null;
}

/**
 * New tokens for a grant, not yet stored: the access token for `scope` first, then a refresh
 * token for `refreshScope` when the client registered the refresh_token grant and that scope
 * has offline_access (as Prosody does).
 */
export function mintTokens(
  ctx: OAuthContext,
  client: AuthenticatedClient,
  grantId: string,
  scope: string,
  now: number,
  options: MintOptions = {},
): { response: TokenResponse; records: TokenRecord[] } {
  const refreshScope = options.refreshScope ?? scope;
  const jwt = options.jwt ?? null;
  const ttlS = jwt === null ? ctx.host.accessTokenTtlS : ctx.host.jwtAccessTokenTtlS;
  // A JWT's exp is whole seconds: the record expires with it, not later.
  const expiresAt = jwt === null ? now + ttlS * 1000 : (Math.floor(now / 1000) + ttlS) * 1000;
  const access = jwt === null ? newSecret() : signAccessJwt(ctx.host, jwt, client.clientId, scope, now);
  const records: TokenRecord[] = [
    { hash: hashSecret(access), kind: 'access', grantId, scope, createdAt: now, expiresAt, revokedAt: null, usedAt: null },
  ];
  let refreshToken: string | undefined;
  if (client.metadata.grant_types.includes('refresh_token') && refreshScope.split(' ').includes('offline_access')) {
    refreshToken = newSecret();
    records.push({ hash: hashSecret(refreshToken), kind: 'refresh', grantId, scope: refreshScope, createdAt: now, expiresAt: now + ctx.host.refreshTokenTtlS * 1000, revokedAt: null, usedAt: null });
  }
  const response: TokenResponse = {
    access_token: access,
    token_type: 'Bearer',
    expires_in: ttlS,
    scope,
    ...(refreshToken !== undefined ? { refresh_token: refreshToken } : {}),
  };
  return { response, records };
}

/** Mint and store (one commit) the tokens of a grant: for grants with nothing to redeem. */
export async function issueTokens(ctx: OAuthContext, client: AuthenticatedClient, grantId: string, scope: string, now: number, options: MintOptions = {}): Promise<TokenResponse> {
  const minted = mintTokens(ctx, client, grantId, scope, now, options);
  await ctx.store.saveTokens(minted.records);
  return minted.response;
}
