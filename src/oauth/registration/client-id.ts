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
 *   registered before they changed;
 * - the canonical encoding (RFC 7515 §2 base64url without padding, RFC 4648 §3.5 pad bits
 *   zero): jose's decoder also accepts trailing padding, whitespace and nonzero pad bits, so
 *   without this one client would verify under several strings, each its own cache entry.
 * Every failure is the same invalid_client with a fixed description; the reason is in `cause`.
 */
import { createHmac } from 'node:crypto';
import { randomBase64url } from '../tokens/secrets.js';
import { jwtVerify } from 'jose';
import { invalidClient } from '../errors.js';
import { clientSecretFor } from './client-secret.js';
import type { HostKey, RegistrationKeys } from './keys.js';
import { metadataJson, validateClientMetadata, type ClientMetadata } from './metadata.js';

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
  // The payload is the metadata's JSON with nonce, iat (and exp) appended: the metadata is a
  // non-empty object, its JSON made once by validation; nonce is base64url, iat and exp are
  // integers, so nothing appended needs escaping.
  const metadataText = metadataJson(metadata);
  const claims = `"nonce":"${nonce}","iat":${iat}${exp === null ? '' : `,"exp":${exp}`}}`;
  const client_id = signHs256(key, `${metadataText.slice(0, -1)},${claims}`);

  const secret =
    metadata.token_endpoint_auth_method === 'none'
      ? {}
      : { client_secret: clientSecretFor(client_id, key), client_secret_expires_at: exp ?? 0 };
  const info: ClientInformation = Object.freeze({ client_id, ...secret, client_id_issued_at: iat, ...metadata });
  // The response body, in the order of `info`: client_id is base64url and the secret hex.
  const head =
    'client_secret' in secret
      ? `{"client_id":"${client_id}","client_secret":"${secret.client_secret}","client_secret_expires_at":${secret.client_secret_expires_at},`
      : `{"client_id":"${client_id}",`;
  RESPONSE_JSON.set(info, `${head}"client_id_issued_at":${iat},${metadataText.slice(1)}`);
  return info;
}

/** Registration responses, made with the client_id (issueClient). */
const RESPONSE_JSON = new WeakMap<ClientInformation, string>();

/** `info` as the JSON of the RFC 7591 §3.2.1 response. */
export function clientInformationJson(info: ClientInformation): string {
  return RESPONSE_JSON.get(info) ?? JSON.stringify(info);
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
  if (!isCanonicalCompact(clientId)) {
    throw invalidClient(INVALID, new Error('client_id is not in canonical compact serialization'));
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

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * True when `token` is three base64url parts (RFC 7515 §7.1) each of which is the one encoding
 * of its bytes: only the alphabet, no padding, and a last character whose unused bits are zero
 * (the decoder ignores them; re-encoding the decoded bytes gives the canonical string back).
 */
function isCanonicalCompact(token: string): boolean {
  const parts = token.split('.');
  return (
    parts.length === 3 &&
    parts.every((part) => BASE64URL.test(part) && Buffer.from(part, 'base64url').toString('base64url') === part)
  );
}

/** `now` in whole seconds, refusing what looks like milliseconds. */
function epochSeconds(now: number | undefined): number {
  if (now === undefined) return Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(now) || now < 0 || now > 1e11) {
    throw new TypeError(`now must be whole seconds since the epoch, got ${String(now)}`);
  }
  return now;
}

/** The encoded JWS header of each signing key (it never changes). */
const ENCODED_HEADERS = new WeakMap<HostKey, string>();

/**
 * A compact HS256 JWS (RFC 7515 §7.1, RFC 7518 §3.2) of our own client_ids, signed with
 * node:crypto's HMAC: jose (WebCrypto only) costs about 60 µs more per registration, and this
 * is registration's hot path. Only signing is done here, of content we built; every client_id
 * a client presents is verified by jose (verifyClient).
 */
function signHs256(key: HostKey, payloadJson: string): string {
  let header = ENCODED_HEADERS.get(key);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: key.kid, typ: CLIENT_ID_TYP })).toString('base64url');
    ENCODED_HEADERS.set(key, header);
  }
  const input = `${header}.${Buffer.from(payloadJson, 'utf8').toString('base64url')}`;
  return `${input}.${createHmac('sha256', key.bytes).update(input).digest('base64url')}`;
}
