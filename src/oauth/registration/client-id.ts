/**
 * Stateless client identifiers (DESIGN.md; RFC 7591 §3.2.1 response). A client_id is a JWS
 * in compact serialization (RFC 7515 §7.1), header `{"alg":"HS256","kid":...,"typ":...}`,
 * signed with the host's first per-host key; its payload is the validated metadata, a random
 * nonce and iat (+ exp with a TTL). Verification enforces:
 * - HS256 only (RFC 8725 §3.1): `none`, HS384/HS512 and asymmetric algorithms are refused
 *   before any key is used, so an attacker cannot choose how the signature is checked;
 * - the key named by `kid` (RFC 7515 §4.1.4) among this host's keys: an unknown kid, a
 *   client_id of another host, or one signed with the raw registration key does not verify;
 * - the explicit type (RFC 8725 §3.11), so no other JWT signed with the same key can pass
 *   for a client_id;
 * - exp, when present (RFC 7519 §4.1.4), with no clock tolerance;
 * - the payload passes today's metadata validation again, so tightened rules apply to clients
 *   registered before they changed.
 * Every failure is the same invalid_client with a fixed description; the reason is in `cause`.
 */
import { createHmac } from 'node:crypto';
import { randomBase64url } from '../secrets.js';
import { jwtVerify } from 'jose';
import { invalidClient } from '../errors.js';
import { clientSecretFor } from './client-secret.js';
import type { RegistrationKeys } from './keys.js';
import { validateClientMetadata, type ClientMetadata } from './metadata.js';

export { verifyClientSecret } from './client-secret.js';

/** The JWS `typ` of a client_id (RFC 7515 §4.1.9: the "application/" prefix omitted). */
export const CLIENT_ID_TYP = 'oauth-client-id+jwt';

/** Longest client_id looked at; issued ones stay under 2 KB (metadata.ts). */
export const MAX_CLIENT_ID_LENGTH = 4096;

const INVALID = 'unknown or invalid client';

/** RFC 7591 §3.2.1 client information response. */
export interface ClientInformation extends ClientMetadata {
  readonly client_id: string;
  /** Absent for public clients (token_endpoint_auth_method none). */
  readonly client_secret?: string;
  /** Seconds since the epoch. */
  readonly client_id_issued_at: number;
  /** With client_secret: its expiry in seconds since the epoch, 0 for never (RFC 7591 §3.2.1). */
  readonly client_secret_expires_at?: number;
}

export interface IssueOptions {
  /** `oauth2_registration_ttl`: seconds the client stays valid, or null for ever. */
  ttlS: number | null;
  /** Seconds since the epoch (RFC 7519 NumericDate); defaults to the clock. */
  now?: number;
}

export interface VerifyOptions {
  /** Seconds since the epoch (RFC 7519 NumericDate); defaults to the clock. */
  now?: number;
}

/**
 * Issues a client: signs `metadata` into a client_id and derives its secret.
 *
 * @example
 * const info = await issueClient(validateClientMetadata(body), keys, { ttlS: config.oauth2.registrationTtlS });
 */
export async function issueClient(
  metadata: ClientMetadata,
  keys: RegistrationKeys,
  options: IssueOptions,
): Promise<ClientInformation> {
  const iat = epochSeconds(options.now);
  const { ttlS } = options;
  if (ttlS !== null && !(Number.isSafeInteger(ttlS) && ttlS > 0)) {
    throw new TypeError(`options.ttlS must be a positive integer or null, got ${String(ttlS)}`);
  }
  const exp = ttlS === null ? null : iat + ttlS;
  const key = keys.signing;
  // 128 random bits: two identical registrations never share an id or a secret.
  const nonce = randomBase64url(16);
  const header = { alg: 'HS256', kid: key.kid, typ: CLIENT_ID_TYP };
  const payload = exp === null ? { ...metadata, nonce, iat } : { ...metadata, nonce, iat, exp };
  const client_id = signHs256(header, payload, key.bytes);

  const secret =
    metadata.token_endpoint_auth_method === 'none'
      ? {}
      : { client_secret: clientSecretFor(client_id, key), client_secret_expires_at: exp ?? 0 };
  return Object.freeze({ client_id, ...secret, client_id_issued_at: iat, ...metadata });
}

/**
 * Verifies a client_id presented to this host and returns the metadata it carries.
 *
 * @throws OAuthError invalid_client, description 'unknown or invalid client', reason in `cause`
 * @example
 * const client = await verifyClient(params.client_id, keys);
 */
export async function verifyClient(
  clientId: unknown,
  keys: RegistrationKeys,
  options: VerifyOptions = {},
): Promise<ClientMetadata> {
  const now = epochSeconds(options.now);
  if (typeof clientId !== 'string' || clientId === '' || clientId.length > MAX_CLIENT_ID_LENGTH) {
    throw invalidClient(INVALID, new Error('client_id is not a string of acceptable length'));
  }
  try {
    const { payload } = await jwtVerify(
      clientId,
      (header) => {
        const key = keys.find(header.kid);
        if (key === undefined) throw new Error('no registration key of this host has this kid');
        return key.cryptoKey();
      },
      {
        algorithms: ['HS256'],
        typ: CLIENT_ID_TYP,
        requiredClaims: ['iat'],
        currentDate: new Date(now * 1000),
        clockTolerance: 0,
      },
    );
    const { nonce, iat: _iat, exp: _exp, ...metadata } = payload;
    if (typeof nonce !== 'string' || nonce.length < 22) throw new Error('client_id has no valid nonce');
    return validateClientMetadata(metadata);
  } catch (err) {
    throw invalidClient(INVALID, err);
  }
}

/** `now` in whole seconds, refusing what looks like milliseconds. */
function epochSeconds(now: number | undefined): number {
  if (now === undefined) return Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(now) || now < 0 || now > 1e11) {
    throw new TypeError(`now must be whole seconds since the epoch, got ${String(now)}`);
  }
  return now;
}

/**
 * A compact HS256 JWS (RFC 7515 §7.1, RFC 7518 §3.2) of our own client_ids, signed with
 * node:crypto's HMAC: jose (WebCrypto only) costs about 60 µs more per registration, and this
 * is registration's hot path. Only signing is done here, of content we built; every client_id
 * a client presents is verified by jose (verifyClient).
 */
function signHs256(header: Record<string, string>, payload: Record<string, unknown>, key: Uint8Array): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}
