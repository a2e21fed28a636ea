/**
 * A user's consent on record for a client: the scopes of the grants that user gave this exact
 * client_id and that are not revoked. A client_id is the whole signed registration (its
 * redirect URIs included), so a consent to one registration never covers another with the
 * same name. This is what decides whether /oauth2/authorize may send the browser back to a
 * client without the user's review (RFC 9700 §4.11.2): see authorize/endpoint.ts.
 */
import type { OAuthContext } from '../context.js';
import { hashSecret } from '../tokens/secrets.js';

/** The scopes `user` granted `clientId` in live grants, or null when none is on record. */
export async function consentOnRecord(ctx: Pick<OAuthContext, 'host' | 'store'>, user: string, clientId: string): Promise<ReadonlySet<string> | null> {
  const clientHash = hashSecret(clientId);
  const grants = (await ctx.store.listGrants(ctx.host.host, user)).filter((g) => g.clientHash === clientHash && g.revokedAt === null);
  if (grants.length === 0) return null;
  return new Set(grants.flatMap((g) => g.scope.split(' ').filter(Boolean)));
}
