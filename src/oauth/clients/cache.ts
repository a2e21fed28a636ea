/**
 * Verified clients, cached. Verifying a client_id (an HS256 JWS through WebCrypto, then its
 * metadata again) and deriving its secret cost about 90 µs; a client presents the same
 * client_id on every token, introspection and revocation request. The cache holds what a
 * successful verification established, until the client_id's own `exp`; entries are bounded
 * in number (oldest out first). A client_id that fails verification is never cached.
 *
 * Safe because a client_id is immutable and self-describing: the same string always verifies
 * the same way under the same keys, and the keys only change with the configuration, which
 * builds a new cache.
 */
import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { verifyClient } from '../registration/client-id.js';
import { clientSecretFor, secretEquals } from '../registration/client-secret.js';
import type { RegistrationKeys } from '../registration/keys.js';
import type { ClientMetadata } from '../registration/metadata.js';

export interface VerifiedClient {
  readonly clientId: string;
  readonly metadata: ClientMetadata;
  /** SHA-256 hex of the client_id: how grants refer to their client. */
  readonly clientHash: string;
  /** The client's secret, or null for a public client. */
  readonly secret: string | null;
  /** When the client_id expires (ms since the epoch), or Infinity. */
  readonly expiresAt: number;
}

export class ClientCache {
  readonly #keys: RegistrationKeys;
  readonly #max: number;
  readonly #entries = new Map<string, VerifiedClient>();

  constructor(keys: RegistrationKeys, max = 10_000) {
    this.#keys = keys;
    this.#max = max;
  }

  /**
   * The verified client, or throws OAuthError invalid_client (from verifyClient, which also
   * refuses a client_id that is not a string: an absent parameter).
   */
  async verify(presented: unknown): Promise<VerifiedClient> {
    const hit = typeof presented === 'string' ? this.#entries.get(presented) : undefined;
    if (hit !== undefined) {
      if (hit.expiresAt > Date.now()) return hit;
      this.#entries.delete(hit.clientId);
    }
    const metadata = await verifyClient(presented, this.#keys);
    const clientId = presented as string; // verifyClient refuses anything else
    // Verified above: decoding without checking again is safe here.
    const exp = decodeJwt(clientId).exp;
    const key = this.#keys.find(decodeProtectedHeader(clientId).kid)!;
    const entry: VerifiedClient = {
      clientId,
      metadata,
      clientHash: createHash('sha256').update(clientId, 'utf8').digest('hex'),
      secret: metadata.token_endpoint_auth_method === 'none' ? null : clientSecretFor(clientId, key),
      expiresAt: typeof exp === 'number' ? exp * 1000 : Infinity,
    };
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(clientId, entry);
    return entry;
  }

  /** Constant-time check of a presented secret (client-secret.ts secretEquals). */
  static secretMatches(client: VerifiedClient, presented: string | undefined): boolean {
    if (client.secret === null || presented === undefined || presented === '') return false;
    return secretEquals(client.secret, presented);
  }
}
