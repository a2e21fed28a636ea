import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import { RegistrationKeys, keyId, perHostKey } from '../../../src/oauth/registration/keys.js';

// Vectors computed outside Node (Python's hmac and hashlib) from DESIGN.md's formula and the
// kid derivation documented in keys.ts.
const VECTORS = [
  {
    key: 'correct horse battery staple',
    host: 'example.com',
    perHostKey: 'e9eeaf803e59815d3e57255a259de9b3607d00f093ca2f134ebbe55ff760a310',
    kid: 'aQol_f1vNVbX7tNs',
  },
  {
    key: 'clé-secrète-ünïcødé-0123',
    host: 'xmpp.example.org',
    perHostKey: 'daa290d73808046464b1c17d744a2a2837540938deb1d30ffba1355b3dac391c',
    kid: 'kSNvoXWR8LiPjyZP',
  },
];

test('per_host_key = HMAC-SHA256(key = UTF-8 of the registration key, message = host): known answers', () => {
  for (const v of VECTORS) {
    assert.equal(Buffer.from(perHostKey(v.key, v.host)).toString('hex'), v.perHostKey, v.key);
  }
});

test('per_host_key agrees with an independent node:crypto computation', () => {
  for (const [key, host] of [
    ['0123456789abcdef', 'a.example'],
    ['ключ-регистрации-длинный', 'b.example'],
    ['k'.repeat(200), 'c.example'], // longer than the HMAC block: hashed first
  ] as const) {
    const expected = createHmac('sha256', Buffer.from(key, 'utf8')).update(Buffer.from(host, 'utf8')).digest();
    assert.deepEqual(Buffer.from(perHostKey(key, host)), expected);
  }
});

test('kid = base64url(first 12 bytes of SHA-256("gatehouse/oauth2-registration-kid/v1" NUL per_host_key))', () => {
  for (const v of VECTORS) {
    const phk = Buffer.from(v.perHostKey, 'hex');
    assert.equal(keyId(phk), v.kid);
    const independent = createHash('sha256')
      .update(Buffer.concat([Buffer.from('gatehouse/oauth2-registration-kid/v1\0', 'utf8'), phk]))
      .digest()
      .subarray(0, 12)
      .toString('base64url');
    assert.equal(keyId(phk), independent);
    assert.match(v.kid, /^[A-Za-z0-9_-]{16}$/);
    // The kid is not a piece of the key.
    assert.ok(!phk.toString('base64url').includes(v.kid));
  }
});

test('RegistrationKeys: first signs, every key verifies by its kid, per host', () => {
  const keys = new RegistrationKeys(['new-key-0123456789', 'old-key-0123456789'], 'example.com');
  assert.equal(keys.host, 'example.com');
  const newKid = keyId(perHostKey('new-key-0123456789', 'example.com'));
  const oldKid = keyId(perHostKey('old-key-0123456789', 'example.com'));
  assert.equal(keys.signing.kid, newKid);
  assert.deepEqual(keys.kids, [newKid, oldKid]);
  assert.deepEqual(Buffer.from(keys.find(oldKid)!.bytes), Buffer.from(perHostKey('old-key-0123456789', 'example.com')));
  assert.equal(keys.find(newKid), keys.signing);

  const other = new RegistrationKeys(['new-key-0123456789'], 'other.example');
  assert.notEqual(other.signing.kid, newKid, 'same secret, other host: other key and kid');
  assert.equal(keys.find(other.signing.kid), undefined);
  for (const bad of [undefined, null, 1, {}, '', 'x', '__proto__', 'constructor']) {
    assert.equal(keys.find(bad), undefined, String(bad));
  }
});

test('RegistrationKeys: a key listed twice is one key', () => {
  const keys = new RegistrationKeys(['same-key-0123456789', 'same-key-0123456789'], 'example.com');
  assert.equal(keys.kids.length, 1);
  assert.equal(keys.find(keys.signing.kid), keys.signing, 'the first occurrence is kept');
});

test('misuse is a TypeError', () => {
  const keysMsg = { name: 'TypeError', message: 'keys must be a non-empty array of registration keys' };
  assert.throws(() => new RegistrationKeys([], 'example.com'), keysMsg);
  assert.throws(() => new RegistrationKeys('key' as unknown as string[], 'example.com'), keysMsg);
  assert.throws(() => new RegistrationKeys([''], 'example.com'), { name: 'TypeError', message: 'registrationKey must be a non-empty string' });
  assert.throws(() => new RegistrationKeys(['k0123456789abcdef'], ''), { name: 'TypeError', message: 'host must be a non-empty string' });
  assert.throws(() => perHostKey(1 as unknown as string, 'h'), { name: 'TypeError', message: 'registrationKey must be a non-empty string' });
  assert.throws(() => perHostKey('k0123456789abcdef', 1 as unknown as string), { name: 'TypeError', message: 'host must be a non-empty string' });
});
