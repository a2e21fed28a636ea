/**
 * POST /oauth2/token (RFC 6749 §3.2). Client authentication first (clientauth.ts), then:
 *
 * authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6):
 *  - the code is consumed atomically; a second use revokes the grant and everything it issued
 *    (RFC 6749 §4.1.2);
 *  - it must be this client's, for this redirect_uri, unexpired, with a code_verifier that
 *    hashes to its challenge, and its grant must not be revoked.
 * refresh_token (RFC 6749 §6, RFC 9700 §4.14.2):
 *  - the token must be this client's refresh token, unexpired and unrevoked;
 *  - it is rotated: used once, replaced; a reused one revokes the grant;
 *  - a narrower `scope` may be asked, never a wider one.
 *
 * Tokens are random; only their hashes are stored. A refresh token is issued when the client
 * registered the refresh_token grant and the grant includes offline_access (as Prosody does).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TokenRecord } from '../../storage/port.js';
import { authenticateClient, type AuthenticatedClient } from '../clientauth.js';
import type { OAuthContext } from '../context.js';
import { OAuthError } from '../errors.js';
import { verifyPkce } from '../pkce.js';
import { parseScope } from '../scopes.js';
import { hashSecret, newSecret } from '../secrets.js';
import { enforceRate, sendOAuthError } from './respond.js';
import { deviceCodeGrant } from '../device/grant.js';
import { idTokenFor } from '../oidc/id-token.js';
import { passwordGrant } from './password.js';

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
      const body = req.body as Record<string, string>;
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
  const consumed = await ctx.store.consumeCode(hashSecret(code), now);
  if (consumed.status === 'missing') throw grant('unknown code');
  const c = consumed.record;
  const clientHash = hashSecret(client.clientId);
  if (c.clientHash !== clientHash) throw grant('code of another client');
  if (consumed.status === 'revoked') throw grant('grant revoked');
  if (consumed.status !== 'ok') {
    // A replayed code: whoever holds it, everything it issued is revoked (RFC 6749 §4.1.2).
    await ctx.store.revokeGrant(c.grantId, now);
    ctx.log.warn({ grant: c.grantId }, 'authorization code replayed; grant revoked');
    throw grant('code already used');
  }
  if (c.expiresAt <= now) throw grant('code expired');
  if (body['redirect_uri'] !== c.redirectUri) throw grant('redirect_uri differs from the authorization request');
  if (!verifyPkce(verifier, c.codeChallenge)) throw grant('code_verifier does not match the code_challenge');
  const g = await ctx.store.getGrant(c.grantId);
  if (g === null || g.revokedAt !== null) throw grant('grant revoked');
  await ctx.store.touchGrant(g.id, now);
  const tokens = await issueTokens(ctx, client, g.id, c.scope, now, null);
  const idToken = await idTokenFor(ctx, { grant: g, clientId: client.clientId, scope: c.scope, nonce: c.nonce });
  return idToken === undefined ? tokens : { ...tokens, id_token: idToken };
}

async function refresh(ctx: OAuthContext, client: AuthenticatedClient, body: Record<string, string>): Promise<TokenResponse> {
  if (!client.metadata.grant_types.includes('refresh_token')) throw new OAuthError('unauthorized_client');
  const presented = body['refresh_token'];
  if (presented === undefined) throw new OAuthError('invalid_request', 'refresh_token is required');
  const now = Date.now();
  const found = await ctx.store.findToken(hashSecret(presented));
  if (found === null || found.token.kind !== 'refresh') throw grant('unknown refresh token');
  const { token, grant: g } = found;
  if (g.clientHash !== hashSecret(client.clientId)) throw grant('refresh token of another client');
  if (token.usedAt !== null) {
    await ctx.store.revokeGrant(g.id, now);
    ctx.log.warn({ grant: g.id }, 'rotated refresh token reused; grant revoked');
    throw grant('refresh token already used');
  }
  if (token.revokedAt !== null || g.revokedAt !== null) throw grant('refresh token revoked');
  if (token.expiresAt <= now) throw grant('refresh token expired');
  let scope = token.scope;
  if (body['scope'] !== undefined) {
    const asked = parseScope(body['scope']);
    const held = new Set(token.scope.split(' '));
    if (asked === null || asked.length === 0 || !asked.every((s) => held.has(s))) {
      throw new OAuthError('invalid_scope', 'a refresh may only narrow the scope');
    }
    scope = asked.join(' ');
  }
  return issueTokens(ctx, client, g.id, scope, now, hashSecret(presented));
}

/**
 * Issue an access token (and a refresh token when allowed) for a grant; `rotating` is the
 * hash of the refresh token being exchanged, if any. Shared by every grant type.
 */
export async function issueTokens(
  ctx: OAuthContext,
  client: AuthenticatedClient,
  grantId: string,
  scope: string,
  now: number,
  rotating: string | null,
): Promise<TokenResponse> {
  const access = newSecret();
  const accessRecord: TokenRecord = {
    hash: hashSecret(access),
    kind: 'access',
    grantId,
    scope,
    createdAt: now,
    expiresAt: now + ctx.host.accessTokenTtlS * 1000,
    revokedAt: null,
    usedAt: null,
  };
  const mayRefresh = client.metadata.grant_types.includes('refresh_token') && scope.split(' ').includes('offline_access');
  let refreshToken: string | undefined;
  if (mayRefresh) {
    refreshToken = newSecret();
    const record: TokenRecord = {
      hash: hashSecret(refreshToken),
      kind: 'refresh',
      grantId,
      scope,
      createdAt: now,
      expiresAt: now + ctx.host.refreshTokenTtlS * 1000,
      revokedAt: null,
      usedAt: null,
    };
    if (rotating === null) {
      await ctx.store.saveToken(record);
    } else {
      const rotated = await ctx.store.rotateRefreshToken(rotating, record, now);
      if (rotated.status === 'revoked') throw grant('grant revoked');
      if (rotated.status !== 'ok') {
        // Lost a race with another use of the same refresh token: that is a reuse.
        await ctx.store.revokeGrant(grantId, now);
        throw grant('refresh token already used');
      }
    }
  }
  await ctx.store.saveToken(accessRecord);
  return {
    access_token: access,
    token_type: 'Bearer' as const,
    expires_in: ctx.host.accessTokenTtlS,
    scope,
    ...(refreshToken !== undefined ? { refresh_token: refreshToken } : {}),
  };
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
