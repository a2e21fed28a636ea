/**
 * The one way to a client: every page and every client authentication looks a client_id up
 * here, through the host's cache of verified clients (cache.ts), so a client_id is verified
 * by the same rule, and once until it expires, wherever it is presented.
 */
import type { OAuthHost } from '../host.js';
import type { VerifiedClient } from './cache.js';

/**
 * The verified client, or throws OAuthError invalid_client (registration/client-id.ts
 * verifyClient), also for a client_id that is absent or not a string.
 */
export function lookupClient(host: Pick<OAuthHost, 'clients'>, clientId: unknown): Promise<VerifiedClient> {
  return host.clients.verify(clientId);
}
