/**
 * The id_token of a token response (OpenID Connect Core §3.1.3.3), when the scope has openid.
 *
 * Claims (Core §2): iss; sub, the bare JID (unique and never reassigned within the issuer);
 * aud, the client_id alone; exp, iat; auth_time (when the user typed the password, which the
 * grant records); nonce, echoed when the authorization request had one (Core §3.1.2.1);
 * amr ["pwd"] (RFC 8176 §2: every Gatehouse login is a password checked by the auth script).
 *
 * No azp: Core §2 wants it for a token with several audiences, and aud is only ever the
 * client itself; a client_id is a signed JWT of up to ~2 KB, and repeating it would double
 * the token for nothing. No at_hash: optional in the code flow (Core §3.1.3.6).
 *
 * Signed with the host's derived ES256 key (keys.ts), kid in the header, so a relying party
 * picks the key from {issuer}/oauth2/jwks.
 */
import type { OAuthContext } from '../context.js';
import type { Grant } from '../../storage/port.js';
import { signCompact } from './jws.js';
import { oidcKeys } from './keys.js';

export interface IdTokenInput {
  readonly grant: Grant;
  readonly clientId: string;
  readonly scope: string;
  readonly nonce: string | null;
}

/** Authentication Method Reference values (RFC 8176 §2): a password. */
const AMR: readonly string[] = Object.freeze(['pwd']);

/** The signed id_token for this grant, or undefined when `scope` lacks openid. */
export async function idTokenFor(ctx: OAuthContext, input: IdTokenInput): Promise<string | undefined> {
  if (!input.scope.split(' ').includes('openid')) return undefined;
  const host = ctx.host;
  const iat = Math.floor(Date.now() / 1000);
  return signCompact(oidcKeys(host).signing, {
    iss: host.issuer,
    sub: host.subject(input.grant.user, input.grant.generation),
    aud: input.clientId,
    // As long as the access token issued with it: one setting for both (oauth2_access_token_ttl).
    exp: iat + host.accessTokenTtlS,
    iat,
    auth_time: Math.floor(input.grant.authTime / 1000),
    ...(input.nonce !== null ? { nonce: input.nonce } : {}),
    amr: AMR,
  });
}
