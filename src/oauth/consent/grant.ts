/** Creating a grant: a user's consent to a client, the parent of its codes and tokens. */
import type { OAuthContext } from '../context.js';
import type { ClientMetadata } from '../registration/metadata.js';
import { hashSecret, newId } from '../tokens/secrets.js';

export interface NewGrant {
  readonly user: string;
  readonly clientId: string;
  readonly client: ClientMetadata;
  readonly scope: string;
  /** When the user authenticated, ms (OIDC auth_time). */
  readonly authTime: number;
  /**
   * The account generation read before the password was checked (the session's, or the
   * password check's): a grant for an account that ended meanwhile is stored revoked.
   */
  readonly generation: number;
  readonly now: number;
}

/** Stores the grant; returns its id. */
export async function createGrant(ctx: OAuthContext, g: NewGrant): Promise<string> {
  const id = newId();
  await ctx.store.createGrant({
    id,
    host: ctx.host.host,
    user: g.user,
    clientId: g.clientId,
    clientHash: hashSecret(g.clientId),
    clientName: g.client.client_name,
    clientUri: g.client.client_uri ?? '',
    scope: g.scope,
    createdAt: g.now,
    lastUsedAt: g.now,
    authTime: g.authTime,
    revokedAt: null,
    generation: g.generation,
  });
  return id;
}
