/**
 * POST /oauth2/token (RFC 6749 §3.2). Client authentication first (clientauth.ts), then:
 *
 * authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6):
 *  - the code is consumed atomically; a second use revokes the grant and everything it issued
 *    (RFC 6749 §4.1.2);
 *  - it must be this client's, for this redirect_uri (or none, when the authorization request
 *    named none), unexpired, with a code_verifier that
 *    hashes to its challenge, and its grant must not be revoked.
 * refresh_token (RFC 6749 §6, RFC 9700 §4.14.2):
 *  - the token must be this client's refresh token, unexpired and unrevoked;
 *  - it is rotated: used once, replaced; a reused one revokes the grant;
 *  - a narrower `scope` may be asked, never a wider one; it narrows the new access token only:
 *    the successor refresh token keeps the scope the presented one carried, which is the
 *    grant's original scope (RFC 6749 §6: "the refresh token ... with the scope originally
 *    granted"), so a later refresh may ask for the whole scope again, and a refresh narrowed
 *    to a scope without offline_access still gets its successor.
 *
 * Tokens are random; only their hashes are stored. A refresh token is issued when the client
 * registered the refresh_token grant and the grant includes offline_access (as Prosody does).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formOf } from '../../http/form.js';
import type { TokenRecord } from '../../storage/port.js';
import { authenticateClient, type AuthenticatedClient } from '../clients/authenticate.js';
import type { OAuthContext } from '../context.js';
import { OAuthError } from '../errors.js';
import { verifyPkce } from '../authorize/pkce.js';
import { parseScope } from '../consent/scopes.js';
import { hashSecret, newSecret } from '../tokens/secrets.js';
import { enforceRate, sendOAuthError } from '../respond/send-error.js';
import { deviceCodeGrant } from '../grants/device-code.js';
import { idTokenFor } from '../oidc/id-token.js';
import { passwordGrant } from '../grants/password.js';

/** The body of a successful token response (RFC 6749 §5.1). */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope: string;
  readonly refresh_token?: string;
  readonly id_token?: string;
}

/** Facts of the HTTP request a grant may need. */
export interface GrantRequest {
  /** The client's address, for login throttling. */
  readonly address: string;
}

type GrantHandler = (ctx: OAuthContext, client: AuthenticatedClient, body: Record<string, string>, req: GrantRequest) => Promise<TokenResponse>;

const grant = (why: string) => new OAuthError('invalid_grant', undefined, { cause: new Error(why) });

export function tokenEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    try {
      enforceRate(ctx.limits.token, req, reply, 'token requests');
      const body = formOf(req);
      const client = await authenticateClient(ctx.host, req.headers.authorization, body);
      const type = body['grant_type'];
      if (type === undefined) throw new OAuthError('invalid_request', 'grant_type is required');
      const handler = GRANT_HANDLERS[type];
      if (handler === undefined) throw new OAuthError('unsupported_grant_type');
      return reply.send(await handler(ctx, client, body, { address: req.ip }));
    } catch (err) {
      return sendOAuthError(ctx, reply, err);
    }
  };
}

async function exchangeCode(ctx: OAuthContext, client: AuthenticatedClient, body: Record<string, string>): Promise<TokenResponse> {
  if (!client.metadata.grant_types.includes('authorization_code')) throw new OAuthError('unauthorized_client');
  const code = body['code'];
  const verifier = body['code_verifier'];
  if (code === undefined) throw new OAuthError('invalid_request', 'code is required');
  if (verifier === undefined) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
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
  const minted = mintTokens(ctx, client, g.id, c.scope, now);
  const redeemed = await ctx.store.redeemCode(hash, now, minted.records);
  if (redeemed.status === 'revoked' || redeemed.status === 'missing') throw grant('grant revoked');
  if (redeemed.status === 'reused') return replayed(ctx, c.grantId, now);
  const idToken = await idTokenFor(ctx, { grant: g, clientId: client.clientId, scope: c.scope, nonce: c.nonce });
  return idToken === undefined ? minted.response : { ...minted.response, id_token: idToken };
}

/**
 * RFC 6749 §4.1.3: redirect_uri is required, and must be identical, when the authorization
 * request included it. A code from a request without one (recorded as '', issue-code.ts) takes
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

async function refresh(ctx: OAuthContext, client: AuthenticatedClient, body: Record<string, string>): Promise<TokenResponse> {
  if (!client.metadata.grant_types.includes('refresh_token')) throw new OAuthError('unauthorized_client');
  const presented = body['refresh_token'];
  if (presented === undefined) throw new OAuthError('invalid_request', 'refresh_token is required');
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
      throw new OAuthError('invalid_scope', 'a refresh may only narrow the scope');
    }
    scope = asked.join(' ');
  }
  const minted = mintTokens(ctx, client, g.id, scope, now, token.scope);
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

/** grant_type -> handler (null prototype: `__proto__` is not a grant type). */
const GRANT_HANDLERS: Readonly<Record<string, GrantHandler>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, GrantHandler>, {
    authorization_code: exchangeCode,
    refresh_token: refresh,
    'urn:ietf:params:oauth:grant-type:device_code': deviceCodeGrant,
    password: passwordGrant,
  }),
);
