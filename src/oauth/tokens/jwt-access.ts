/**
 * JWT access tokens (RFC 9068), opt-in per resource: a token request whose `resource` (RFC
 * 8707) is one of the host's `oauth2_jwt_resources` gets one instead of an opaque token, so a
 * resource server may check it offline against {issuer}/oauth2/jwks.
 *
 * Header: typ "at+jwt" (§2.1; or "JWT" with `oauth2_jwt_typ`, because Dovecot 2.3's local
 * validation refuses any typ but "JWT": "Cannot find 'typ' field"), alg ES256, kid: the host's derived id_token key (oidc/keys.ts).
 * Claims (§2.2): iss; exp (oauth2_jwt_access_token_ttl after iat); aud, the resource; sub, the
 * same subject as the id_token's; client_id; iat; jti, 128 random bits; scope; and `username`,
 * the account's local part, as introspection names it (a resource server such as Dovecot
 * compares it with the login name).
 *
 * The token is stored like an opaque one (its SHA-256), so introspection, revocation and
 * userinfo treat it alike. Revocation cannot reach a copy checked offline: a revoked JWT stays
 * valid for such a resource server until exp, hence the short default lifetime.
 */
import type { OAuthHost } from '../host.js';
import { signCompact } from '../oidc/jws.js';
import { oidcKeys } from '../oidc/keys.js';
import { newId } from './secrets.js';

/** Whom a JWT access token is about and for. */
export interface JwtAccessTarget {
  /** The RFC 8707 resource: the token's aud. */
  readonly resource: string;
  readonly user: string;
  readonly generation: number;
}

export function signAccessJwt(host: OAuthHost, target: JwtAccessTarget, clientId: string, scope: string, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  return signCompact(
    oidcKeys(host).signing,
    {
      iss: host.issuer,
      exp: iat + host.jwtAccessTokenTtlS,
      aud: target.resource,
      sub: host.subject(target.user, target.generation),
      client_id: clientId,
      iat,
      jti: newId(),
      scope,
      username: target.user,
    },
    host.jwtTyp,
  );
}

/**
 * The aud of one of our JWT access tokens, for introspection; undefined for an opaque token.
 * Only called for a token found in the store (so one we signed): the payload is read, not
 * verified.
 */
export function jwtAudience(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { aud?: unknown };
    return typeof payload.aud === 'string' ? payload.aud : undefined;
  } catch {
    return undefined;
  }
}
