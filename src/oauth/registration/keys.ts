/**
 * Per-host registration keys (DESIGN.md, "stateless dynamic client registration").
 *
 *   per_host_key = HMAC-SHA256(key = UTF-8 bytes of oauth2_registration_key, message = host)
 *
 * Deriving a key per host means a client_id signed for one host never verifies on another,
 * even when hosts share one configured secret. With several configured keys the first signs
 * and all verify; the JWS `kid` header (RFC 7515 §4.1.4) names the verifying key, so a key can
 * be rotated out without breaking the clients it signed until it is removed.
 *
 * kid derivation (exact, so another implementation can reproduce it):
 *
 *   kid = base64url(SHA-256(UTF-8 "gatehouse/oauth2-registration-kid/v1" || 0x00 || per_host_key)[0..12])
 *
 * i.e. the first 12 bytes (96 bits) of the digest, base64url without padding: 16 characters.
 * It identifies the per-host key (hence also the host) without revealing it: recovering the
 * key from the kid means inverting SHA-256 over a 256-bit HMAC output. The label separates
 * this use of SHA-256 from any other hash over the same key.
 */
import { createHash, createHmac, webcrypto } from 'node:crypto';

const KID_LABEL = 'gatehouse/oauth2-registration-kid/v1';

/** HMAC-SHA256(key = UTF-8 of `registrationKey`, message = UTF-8 of `host`). */
export function perHostKey(registrationKey: string, host: string): Uint8Array {
  if (typeof registrationKey !== 'string' || registrationKey === '') {
    throw new TypeError('registrationKey must be a non-empty string');
  }
  if (typeof host !== 'string' || host === '') throw new TypeError('host must be a non-empty string');
  return new Uint8Array(createHmac('sha256', Buffer.from(registrationKey, 'utf8')).update(host, 'utf8').digest());
}

/** The public name of a per-host key (derivation in the header comment). */
export function keyId(hostKey: Uint8Array): string {
  return createHash('sha256')
    .update(KID_LABEL, 'utf8')
    .update(new Uint8Array([0]))
    .update(hostKey)
    .digest()
    .subarray(0, 12)
    .toString('base64url');
}

/** One per-host key and its kid. */
export class HostKey {
  readonly kid: string;
  /** The raw per-host key: the HS256 key, and the HMAC key of client secrets. */
  readonly bytes: Uint8Array;
  #cryptoKey: Promise<webcrypto.CryptoKey> | undefined;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.kid = keyId(bytes);
  }

  /** The key imported once for HMAC SHA-256, so signing and verifying skip the import. */
  cryptoKey(): Promise<webcrypto.CryptoKey> {
    this.#cryptoKey ??= webcrypto.subtle.importKey('raw', this.bytes, { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    return this.#cryptoKey;
  }
}

/** The registration keys of one host: the first signs, all verify. */
export class RegistrationKeys {
  readonly host: string;
  /** The key new client_ids are signed with. */
  readonly signing: HostKey;
  readonly #byKid = new Map<string, HostKey>();

  /**
   * @param keys the configured `oauth2_registration_key` list, signing key first
   * @param host the host name exactly as configured (it is the HMAC message)
   *
   * @example
   * const keys = new RegistrationKeys(config.oauth2.registrationKeys, 'example.com');
   */
  constructor(keys: readonly string[], host: string) {
    if (!Array.isArray(keys) || keys.length === 0) {
      throw new TypeError('keys must be a non-empty array of registration keys');
    }
    const derived = keys.map((k) => new HostKey(perHostKey(k, host)));
    // A key listed twice yields the same kid; the first occurrence is kept.
    for (const k of derived) if (!this.#byKid.has(k.kid)) this.#byKid.set(k.kid, k);
    this.host = host;
    this.signing = derived[0]!;
  }

  /** The kids, signing key first. */
  get kids(): readonly string[] {
    return [...this.#byKid.keys()];
  }

  /** The verifying key named by `kid`, or undefined for an unknown (or non-string) kid. */
  find(kid: unknown): HostKey | undefined {
    return typeof kid === 'string' ? this.#byKid.get(kid) : undefined;
  }
}
