/**
 * The authorization-request token: the request as GET /authorize validated it, signed and
 * carried through the login and consent forms, so that nothing a user can edit is trusted on
 * POST. Not stored.
 */
import { jwtVerify, SignJWT } from 'jose';
import type { OAuthHost } from '../host.js';

/** How long a request may sit on the login and consent pages, s. */
export const REQUEST_TTL_S = 600;

/** The authorization request as validated by GET /authorize. */
export interface AuthorizationRequest {
  readonly client_id: string;
  readonly redirect_uri: string;
  /**
   * True when the request named no redirect_uri (the client's only one was used): then the
   * token request need not name it either (RFC 6749 §4.1.3).
   */
  readonly redirect_uri_omitted?: true;
  readonly scope: string;
  readonly state?: string;
  readonly code_challenge: string;
  readonly nonce?: string;
  /**
   * A session counts only if it was issued (its user signed in) at or after this time, ms
   * (OIDC `prompt=login`, `max_age`); absent: any session counts.
   */
  readonly auth_after?: number;
}

export async function issueRequestToken(host: OAuthHost, req: AuthorizationRequest): Promise<string> {
  return new SignJWT({ ...req })
    .setProtectedHeader({ alg: 'HS256', typ: 'gh-authz-request+jwt' })
    .setAudience(host.issuer)
    .setIssuedAt()
    .setExpirationTime(`${REQUEST_TTL_S}s`)
    .sign(host.requestKey);
}

export async function readRequestToken(host: OAuthHost, token: string): Promise<AuthorizationRequest | null> {
  try {
    const { payload } = await jwtVerify(token, host.requestKey, { algorithms: ['HS256'], typ: 'gh-authz-request+jwt', audience: host.issuer });
    const p = payload as Record<string, unknown>;
    const str = (k: string) => (typeof p[k] === 'string' ? (p[k] as string) : undefined);
    if (!str('client_id') || !str('redirect_uri') || str('scope') === undefined || !str('code_challenge')) return null;
    return {
      client_id: str('client_id')!,
      redirect_uri: str('redirect_uri')!,
      ...(p['redirect_uri_omitted'] === true ? { redirect_uri_omitted: true as const } : {}),
      scope: str('scope')!,
      code_challenge: str('code_challenge')!,
      ...(str('state') !== undefined ? { state: str('state')! } : {}),
      ...(str('nonce') !== undefined ? { nonce: str('nonce')! } : {}),
      ...(Number.isSafeInteger(p['auth_after']) ? { auth_after: p['auth_after'] as number } : {}),
    };
  } catch {
    return null;
  }
}
