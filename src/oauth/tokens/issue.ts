/**
 * Token minting, for every grant type: tokens are random; only their hashes are stored. A
 * refresh token is issued when the client registered the refresh_token grant and the grant
 * includes offline_access (as Prosody does).
 */
import type { TokenRecord } from '../../storage/port.js';
import type { AuthenticatedClient } from '../clients/authenticate.js';
import type { OAuthContext } from '../context.js';
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

/**
 * New tokens for a grant, not yet stored: the access token for `scope` first, then a refresh
 * token for `refreshScope` (by default `scope`; a narrowed refresh passes the original) when
 * the client registered the refresh_token grant and that scope has offline_access (as Prosody
 * does).
 */
export function mintTokens(
  ctx: OAuthContext,
  client: AuthenticatedClient,
  grantId: string,
  scope: string,
  now: number,
  refreshScope: string = scope,
): { response: TokenResponse; records: TokenRecord[] } {
  const access = newSecret();
  const records: TokenRecord[] = [
    { hash: hashSecret(access), kind: 'access', grantId, scope, createdAt: now, expiresAt: now + ctx.host.accessTokenTtlS * 1000, revokedAt: null, usedAt: null },
  ];
  let refreshToken: string | undefined;
  if (client.metadata.grant_types.includes('refresh_token') && refreshScope.split(' ').includes('offline_access')) {
    refreshToken = newSecret();
    records.push({ hash: hashSecret(refreshToken), kind: 'refresh', grantId, scope: refreshScope, createdAt: now, expiresAt: now + ctx.host.refreshTokenTtlS * 1000, revokedAt: null, usedAt: null });
  }
  const response: TokenResponse = {
    access_token: access,
    token_type: 'Bearer',
    expires_in: ctx.host.accessTokenTtlS,
    scope,
    ...(refreshToken !== undefined ? { refresh_token: refreshToken } : {}),
  };
  return { response, records };
}

/** Mint and store (one commit) the tokens of a grant: for grants with nothing to redeem. */
export async function issueTokens(ctx: OAuthContext, client: AuthenticatedClient, grantId: string, scope: string, now: number): Promise<TokenResponse> {
  const minted = mintTokens(ctx, client, grantId, scope, now);
  await ctx.store.saveTokens(minted.records);
  return minted.response;
}
