/**
 * The id_token signing keys of a host (OpenID Connect Core §10.1), derived from its
 * registration keys and never stored, so every instance with the same config signs with the
 * same key and publishes the same JWKS, and a restart changes nothing.
 *
 * Algorithm: ES256 (ECDSA P-256, SHA-256; RFC 7518 §3.4). Not RS256: one RSA signature costs
 * ~1 ms here against ~0.16 ms for ES256. Not EdDSA, although openid-client accepts it: it
 * is no cheaper here (~0.30 ms per Ed25519 signature), Chrome's WebCrypto gained Ed25519 only
 * in 2025 (web XMPP clients verify id_tokens in the browser), Node 20 still marks it
 * experimental in WebCrypto, several JOSE libraries lack it, and RFC 9864 deprecates the
 * "EdDSA" name in favour of "Ed25519", so old and new libraries disagree on the spelling.
 * ES256 is in every WebCrypto and every JOSE library.
 *
 * Derivation, for each per-host registration key (registration/keys.ts), exact so another
 * implementation can reproduce it:
 *
 *   for c = 0, 1, 2, ...:
 *     k = OS2IP(HMAC-SHA256(key = per_host_key, message = UTF-8 "gatehouse oidc signing v1" || byte c))
 *     if k <= n - 2: d = k + 1; stop
 *
 * where n is the order of P-256: rejection sampling (FIPS 186-5 §A.4.2), so d is uniform in
 * [1, n-1]; c > 0 happens with probability about 2^-32. The label keeps this use of the
 * per-host key apart from client secrets (HMAC over a client_id, which is a JWT and never
 * starts with "gatehouse") and from the browser keys of host.ts.
 *
 *   kid = RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key
 *
 * Rotation: the first registration key's derived key signs; the derived public keys of all
 * of them are in the JWKS, so id_tokens signed before a rotation still verify until the old
 * registration key is removed from the config.
 */
import { createECDH, createHash, createHmac, createPrivateKey, type KeyObject } from 'node:crypto';
import type { OAuthHost } from '../host.js';
import { ID_TOKEN_ALG } from './alg.js';
import type { HostKey, RegistrationKeys } from '../registration/keys.js';

const LABEL = Buffer.from('gatehouse oidc signing v1', 'utf8');
/** The order of the P-256 group (SEC 2 §2.4.2). */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** A public signing key as published in the JWKS (RFC 7517 §4, RFC 7518 §6.2.1). */
export interface PublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly kid: string;
  readonly alg: typeof ID_TOKEN_ALG;
  readonly use: 'sig';
}

/** One derived signing key. */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly jwk: PublicJwk;
}

/** The P-256 private scalar derived from a per-host key (derivation in the header comment). */
export function deriveScalar(hostKey: Uint8Array): Buffer {
  for (let c = 0; c < 256; c++) {
    const k = createHmac('sha256', hostKey).update(LABEL).update(new Uint8Array([c])).digest();
    const candidate = BigInt(`0x${k.toString('hex')}`);
    if (candidate <= P256_N - 2n) return Buffer.from((candidate + 1n).toString(16).padStart(64, '0'), 'hex');
  }
  // 256 rejections in a row: probability about 2^-8192.
  throw new Error('unreachable: no P-256 scalar derived');
}

/** RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace. */
export function thumbprint(x: string, y: string): string {
  return createHash('sha256').update(JSON.stringify({ crv: 'P-256', kty: 'EC', x, y })).digest('base64url');
}

/** The ES256 signing key derived from one per-host registration key. */
export function deriveSigningKey(hostKey: Uint8Array): SigningKey {
  const d = deriveScalar(hostKey);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey(); // 0x04 || X || Y (SEC 1 §2.3.3, uncompressed)
  const x = point.subarray(1, 33).toString('base64url');
  const y = point.subarray(33, 65).toString('base64url');
  const kid = thumbprint(x, y);
  const privateKey = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', x, y, d: d.toString('base64url') }, format: 'jwk' });
  const jwk: PublicJwk = Object.freeze({ kty: 'EC', crv: 'P-256', x, y, kid, alg: ID_TOKEN_ALG, use: 'sig' });
  return Object.freeze({ kid, privateKey, jwk });
}

/** A host's id_token keys: the first signs, all are published. */
export class OidcKeys {
  readonly signing: SigningKey;
  /** The JWK Set (RFC 7517 §5), signing key first. */
  readonly jwks: { readonly keys: readonly PublicJwk[] };

  constructor(keys: RegistrationKeys) {
    const hostKeys = keys.kids.map((kid) => keys.find(kid) as HostKey);
    const derived = hostKeys.map((k) => deriveSigningKey(k.bytes));
    this.signing = derived[0]!;
    this.jwks = Object.freeze({ keys: Object.freeze(derived.map((k) => k.jwk)) });
  }
}

const cache = new WeakMap<OAuthHost, OidcKeys>();

/** The id_token keys of a host, derived on first use (oidcRoutes does it at start-up). */
export function oidcKeys(host: OAuthHost): OidcKeys {
  let keys = cache.get(host);
  if (keys === undefined) {
    keys = new OidcKeys(host.keys);
    cache.set(host, keys);
  }
  return keys;
}
