/**
 * PKCE (RFC 7636) as the token endpoint judges it: a verifier outside 43-128 characters of the
 * unreserved set, or a challenge that is not 43 base64url characters, is refused even when the
 * hash matches; `plain` (the verifier as its own challenge) never passes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { isValidChallenge, verifyPkce } from '../../src/oauth/authorize/pkce.js';

const s256 = (v: string) => createHash('sha256').update(v, 'ascii').digest('base64url');
const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';

test('a verifier of 43 to 128 unreserved characters that hashes to the challenge passes', () => {
  for (const v of ['a'.repeat(43), 'Z'.repeat(128), (UNRESERVED + UNRESERVED).slice(0, 128), UNRESERVED.slice(0, 43), UNRESERVED.slice(-43)]) {
    assert.equal(verifyPkce(v, s256(v)), true, v);
  }
});

test('attack: a verifier that hashes to the challenge but is too short, too long or outside the alphabet is refused', () => {
  const bad = ['a'.repeat(42), 'a'.repeat(129), `${'a'.repeat(42)}+`, `${'a'.repeat(42)}/`, `${'a'.repeat(42)}=`, `${'a'.repeat(42)} `, `${'a'.repeat(43)}\n`, `\n${'a'.repeat(43)}`, `${'a'.repeat(42)}é`, ''];
  for (const v of bad) assert.equal(verifyPkce(v, s256(v)), false, JSON.stringify(v));
});

test('attack: a challenge that is not exactly 43 base64url characters is refused, even when it is the hash', () => {
  const v = 'b'.repeat(50);
  const good = s256(v);
  assert.equal(verifyPkce(v, good), true);
  for (const c of [`${good}=`, good.slice(0, 42), `${good}A`, ` ${good}`, `${good}\n`, good.replace(/[-_]/g, '+').replace(/^./, '+')]) {
    assert.equal(verifyPkce(v, c), false, JSON.stringify(c));
    assert.equal(isValidChallenge(c), false, JSON.stringify(c));
  }
  assert.equal(isValidChallenge(good), true);
  assert.equal(isValidChallenge(`${'A'.repeat(21)}-_${'z'.repeat(20)}`), true);
  assert.equal(isValidChallenge(`${'A'.repeat(42)}.`), false, 'the dot is a verifier character, not base64url');
});

test('attack: plain PKCE (the verifier as its own challenge) and a wrong verifier are refused', () => {
  const v = 'c'.repeat(43);
  assert.equal(verifyPkce(v, v), false, 'plain');
  assert.equal(verifyPkce('d'.repeat(43), s256(v)), false, 'another verifier');
  // Same length, one character off in the challenge.
  const c = s256(v);
  const flipped = `${c.slice(0, -1)}${c.endsWith('A') ? 'B' : 'A'}`;
  assert.equal(verifyPkce(v, flipped), false);
});
