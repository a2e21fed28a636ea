/**
 * GET and POST {issuer}/oauth2/userinfo (OpenID Connect Core §5.3), in order:
 *  1. the Bearer access token (bearer.ts: header or form body, never the query);
 *  2. a token we issued, an access token (not a refresh token), for this host, unexpired,
 *     neither it nor its grant revoked: else 401 invalid_token, saying nothing of which;
 *  3. its scope has openid (Core §5.3: the endpoint serves OpenID Connect tokens): else 403
 *     insufficient_scope;
 *  then the claims, as JSON (Core §5.3.2).
 *
 * Claims: `sub`, the bare JID (with `#generation` for a name registered again: host.ts),
 * equal to the id_token's (Core §5.3.2 requires it);
 * `preferred_username`, the localpart; `jid`, the bare JID as a claim of its own, for clients
 * that want the XMPP address without knowing that Gatehouse's sub is one. Core §5.4 puts
 * preferred_username under the `profile` scope; it is returned for `openid` alone because
 * it says nothing sub does not, and Prosody's mod_auth_oauth_external asks for `openid`
 * only and reads the localpart from preferred_username (its default
 * oauth_external_username_field).
 *
 * No rate limit: Prosody calls this once per login from one address, and a guessed token is
 * 256 random bits.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OAuthContext } from '../context.js';
import { insufficientScope, invalidToken } from '../errors.js';
import type { OAuthHost } from '../host.js';
import { hashSecret } from '../tokens/secrets.js';
import { bearerToken, sendBearerError } from './bearer.js';

/** The scope the endpoint requires. */
const REQUIRED_SCOPE = 'openid';

/** The claims the endpoint returns (listed in claims_supported). */
export const USERINFO_CLAIMS = ['sub', 'preferred_username', 'jid'] as const;

/** What UserInfo says about a user of this host. */
export function userinfoClaims(host: OAuthHost, user: string, generation: number): Record<(typeof USERINFO_CLAIMS)[number], string> {
  return { sub: host.subject(user, generation), preferred_username: user, jid: host.jid(user) };
}

const refused = (why: string) => invalidToken(undefined, new Error(why));

export function userinfoEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    try {
      const presented = bearerToken(req);
      const found = await ctx.store.findToken(hashSecret(presented));
      if (found === null) throw refused('unknown token');
      const { token, grant } = found;
      if (token.kind !== 'access') throw refused('not an access token');
      if (grant.host !== ctx.host.host) throw refused('token of another host');
      if (token.revokedAt !== null || grant.revokedAt !== null) throw refused('token revoked');
      if (token.expiresAt <= Date.now()) throw refused('token expired');
      if (!token.scope.split(' ').includes(REQUIRED_SCOPE)) {
        throw insufficientScope('the access token lacks the openid scope', new Error(`scope "${token.scope}"`));
      }
      return reply.send(userinfoClaims(ctx.host, grant.user, grant.generation));
    } catch (err) {
      return sendBearerError(ctx, reply, err, REQUIRED_SCOPE);
    }
  };
}
