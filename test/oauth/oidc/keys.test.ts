import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calculateJwkThumbprint, compactVerify, importJWK } from 'jose';
import { OidcKeys, deriveScalar, deriveSigningKey } from '../../../src/oauth/oidc/keys.js';
import { signCompact } from '../../../src/oauth/oidc/jws.js';
import { RegistrationKeys, perHostKey } from '../../../src/oauth/registration/keys.js';

// Computed outside Node (Python's hmac, hashlib and the cryptography package) from the
// derivation documented in src/oauth/oidc/keys.ts.
const VECTORS = [
  {
    key: 'correct horse battery staple',
    host: 'example.com',
    d: '14f2af1ef7b81b1393aaeabb4c6b81dbb5363bcf771fa0777725d91d40f9dc34',
    x: '-NJ7cZ2QHlmhoX_vKrG9qYnOdPzN9myLvJm7XyVAnAY',
    y: 'Ig08VoOn58nCpiv5O7ANRiHRZwR98ibX6EluxZO2n0Q',
    kid: '5UA_jDzcnZTOCzfAvdgvwBUTpczQX1_tu6WUdNDTYU0',
  },
  {
    // x starts with a zero byte: coordinates keep their 32 bytes.
    key: 'clé-secrète-ünïcødé-0123',
    host: 'xmpp.example.org',
    d: 'de60a7d94af23e9b9082c544ce06499d1161d15af0193d01affe610c80c061b8',
    x: 'AA8zlKZSYVknC1K1Der2qCvCqrVsDI2HOb_LwcD5PAs',
    y: 'p-_iL5_3WF4TpE4sCZAYS7il5Z2G_cIgh__fU6j2AKs',
    kid: 'xUYMYnK9_tD_rVg7xVdhFoJu5h6KYfr16_wRzz6_L8E',
  },
];

test('the ES256 key derived from a per-host key: known answers', () => {
  for (const v of VECTORS) {
    const hostKey = perHostKey(v.key, v.host);
    assert.equal(deriveScalar(hostKey).toString('hex'), v.d, v.key);
    const k = deriveSigningKey(hostKey);
    assert.deepEqual(k.jwk, { kty: 'EC', crv: 'P-256', x: v.x, y: v.y, kid: v.kid, alg: 'ES256', use: 'sig' });
    assert.equal(k.kid, v.kid);
    assert.equal(k.privateKey.export({ format: 'jwk' }).d, Buffer.from(v.d, 'hex').toString('base64url'));
  }
});

test('kid is the RFC 7638 thumbprint of the public key, as jose computes it', async () => {
  for (const v of VECTORS) {
    const { jwk } = deriveSigningKey(perHostKey(v.key, v.host));
    assert.equal(jwk.kid, await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, 'sha256'));
  }
});

test('a compact JWS signed with the derived key verifies with jose against the published JWK', async () => {
  const key = deriveSigningKey(perHostKey(VECTORS[0]!.key, VECTORS[0]!.host));
  const jws = signCompact(key, { hello: 'wörld' });
  const { payload, protectedHeader } = await compactVerify(jws, await importJWK(key.jwk, 'ES256'), { algorithms: ['ES256'] });
  assert.deepEqual(protectedHeader, { alg: 'ES256', kid: key.kid });
  assert.deepEqual(JSON.parse(new TextDecoder().decode(payload)), { hello: 'wörld' });
  // ECDSA signatures are randomized; the JWS is R || S, 64 bytes (RFC 7518 §3.4), not DER.
  assert.equal(Buffer.from(jws.split('.')[2]!, 'base64url').length, 64);
  assert.notEqual(signCompact(key, { hello: 'wörld' }), jws);
});

test('one key per registration key: the first signs, all are published, in order, without private parts', () => {
  const one = new OidcKeys(new RegistrationKeys(['first-key-0123456789'], 'example.com'));
  const two = new OidcKeys(new RegistrationKeys(['second-key-0123456789', 'first-key-0123456789', 'second-key-0123456789'], 'example.com'));
  assert.equal(one.jwks.keys.length, 1);
  assert.equal(two.jwks.keys.length, 2, 'a key listed twice is published once');
  assert.equal(two.signing.kid, two.jwks.keys[0]!.kid);
  assert.deepEqual(two.jwks.keys[1], one.jwks.keys[0], 'the old key is still published, unchanged');
  assert.notEqual(two.signing.kid, one.signing.kid);
  for (const k of two.jwks.keys) assert.deepEqual(Object.keys(k).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  assert.ok(Object.isFrozen(two.jwks) && Object.isFrozen(two.jwks.keys));
});

test('the same registration key gives each host its own signing key', () => {
  const a = deriveSigningKey(perHostKey('shared-secret-0123456789', 'a.example'));
  const b = deriveSigningKey(perHostKey('shared-secret-0123456789', 'b.example'));
  assert.notEqual(a.kid, b.kid);
  assert.notEqual(a.jwk.x, b.jwk.x);
});
