/**
 * Each attack on a stateless client_id, actually tried. Every one must end in the same
 * invalid_client 'unknown or invalid client' (fixtures.ts assertInvalidClient).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT, generateKeyPair } from 'jose';
import { isOAuthError } from '../../../src/oauth/errors.js';
import { CLIENT_ID_TYP, MAX_CLIENT_ID_LENGTH, issueClient, verifyClient } from '../../../src/oauth/registration/client-id.js';
import { verifyClientSecret } from '../../../src/oauth/registration/client-secret.js';
import { RegistrationKeys } from '../../../src/oauth/registration/keys.js';
import { validateClientMetadata } from '../../../src/oauth/registration/metadata.js';
import {
  HOST,
  KEY,
  NOW,
  WEB_INPUT,
  assertInvalidClient,
  b64json,
  designPerHostKey,
  handSignHs256,
  parts,
} from '../../helpers/oauth-registration.js';

const keys = new RegistrationKeys([KEY], HOST);
const kid = keys.signing.kid;
const metadata = validateClientMetadata(WEB_INPUT);
const issue = (ttlS: number | null = null) => issueClient(metadata, keys, { ttlS, now: NOW });
const verify = (id: unknown, k = keys, now = NOW) => verifyClient(id, k, { now });
const codeOf = (cause: unknown): unknown => (cause as { code?: unknown }).code;

/** A payload like the ones Gatehouse signs. */
const payload = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...metadata,
  nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
  iat: NOW,
  ...extra,
});

test('control: a genuine client_id verifies', async () => {
  assert.deepEqual(await verify((await issue()).client_id), metadata);
});

test('tampered payload: another redirect URI under the original signature', async () => {
  const { client_id } = await issue();
  const [h, p, s] = client_id.split('.');
  const evil = { ...parts(client_id).payload, redirect_uris: ['https://app.example.com/evil'] };
  await assertInvalidClient(verify(`${h}.${b64json(evil)}.${s}`), 'redirect URI swapped');
  const publicised = { ...parts(client_id).payload, token_endpoint_auth_method: 'none' };
  await assertInvalidClient(verify(`${h}.${b64json(publicised)}.${s}`), 'made public');
  // Same JSON, re-encoded with padding: different bytes, so a different signing input.
  await assertInvalidClient(verify(`${h}.${p}=.${s}`), 'padded payload');
});

test('tampered signature and header', async () => {
  const { client_id } = await issue();
  const [h, p, s] = client_id.split('.') as [string, string, string];
  const flipped = s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1);
  await assertInvalidClient(verify(`${h}.${p}.${flipped}`), 'signature bit flipped');
  await assertInvalidClient(verify(`${b64json({ alg: 'HS256', kid, typ: 'JWT' })}.${p}.${s}`), 'header swapped');
});

/** The other spellings of a base64url part that decode to the same bytes (pad bits set). */
function sameBytesTwins(part: string): string[] {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const bytes = Buffer.from(part, 'base64url');
  return [...alphabet]
    .map((c) => part.slice(0, -1) + c)
    .filter((twin) => twin !== part && Buffer.from(twin, 'base64url').equals(bytes));
}

test('one client, one spelling: padding, whitespace and nonzero pad bits are refused (RFC 4648 §3.5)', async () => {
  const { client_id } = await issue();
  const [h, p, s] = client_id.split('.') as [string, string, string];
  // A 32-byte HMAC is 43 characters: the last one carries 2 unused bits, so 3 twins exist.
  const sigTwins = sameBytesTwins(s);
  assert.equal(sigTwins.length, 3);
  const variants: [string, string][] = [
    ...sigTwins.map((t): [string, string] => [`${h}.${p}.${t}`, `signature pad bits ${t.at(-1)}`]),
    ...sameBytesTwins(p).map((t): [string, string] => [`${h}.${t}.${s}`, `payload pad bits ${t.at(-1)}`]),
    ...sameBytesTwins(h).map((t): [string, string] => [`${t}.${p}.${s}`, `header pad bits ${t.at(-1)}`]),
    [`${client_id}=`, 'signature padded'],
    [`${client_id}==`, 'signature padded twice'],
    [`${client_id} `, 'trailing space'],
    [`${client_id}\n`, 'trailing newline'],
    [`${client_id}\t`, 'trailing tab'],
    [`${h}.${p}.${s.slice(0, 20)} ${s.slice(20)}`, 'space inside the signature'],
    [`${client_id}.`, 'a fourth, empty part'],
  ];
  for (const [id, what] of variants) {
    const cause = await assertInvalidClient(verify(id), what);
    assert.equal((cause as Error).message, 'client_id is not in canonical compact serialization', what);
  }
  // Control, in the same test: the issued spelling itself still verifies.
  assert.deepEqual(await verify(client_id), metadata);
});

test('truncated tokens', async () => {
  const { client_id } = await issue();
  const [h, p] = client_id.split('.');
  for (const t of [
    client_id.slice(0, -1),
    client_id.slice(0, -10),
    `${h}.${p}.`,
    `${h}.${p}`,
    `${h}.`,
    h,
    client_id.slice(0, client_id.length >> 1),
    '..',
    '',
  ]) {
    await assertInvalidClient(verify(t), `truncated to ${t.length}`);
  }
});

test('alg none, hand-built (RFC 7518 §3.6: never accepted)', async () => {
  const body = b64json(payload());
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    const header = b64json({ alg, kid, typ: CLIENT_ID_TYP });
    await assertInvalidClient(verify(`${header}.${body}.`), `alg ${alg}, empty signature`);
    await assertInvalidClient(verify(`${header}.${body}`), `alg ${alg}, two parts`);
  }
  // alg none carrying the real signature of the same input.
  const { client_id } = await issue();
  const [, p, s] = client_id.split('.');
  await assertInvalidClient(verify(`${b64json({ alg: 'none', kid, typ: CLIENT_ID_TYP })}.${p}.${s}`), 'none + real signature');
});

test('other algorithms built with jose: RS256, ES256, HS384, HS512', async () => {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const perHost = designPerHostKey(KEY, HOST);
  const signed = [
    ['RS256', rsa.privateKey],
    ['ES256', ec.privateKey],
    ['HS384', perHost], // the right key bytes, another algorithm
    ['HS512', perHost],
  ] as const;
  for (const [alg, key] of signed) {
    const jws = await new SignJWT(payload()).setProtectedHeader({ alg, kid, typ: CLIENT_ID_TYP }).sign(key);
    // Refused on the header, before any key is used.
    assert.equal(codeOf(await assertInvalidClient(verify(jws), alg)), 'ERR_JOSE_ALG_NOT_ALLOWED', alg);
  }
});

test("signed with the raw registration key, as Prosody's mod_http_oauth2 does: refused", async () => {
  const raw = new TextEncoder().encode(KEY);
  for (const header of [{ alg: 'HS256', kid, typ: CLIENT_ID_TYP }, { alg: 'HS256', typ: CLIENT_ID_TYP }, { alg: 'HS256' }]) {
    const jws = await new SignJWT(payload()).setProtectedHeader(header).sign(raw);
    await assertInvalidClient(verify(jws), JSON.stringify(header));
    if (header.kid !== undefined) {
      assert.equal(codeOf(await assertInvalidClient(verify(jws))), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    }
  }
});

test('signed with the right key: a missing or unknown kid, or a wrong typ, is still refused', async () => {
  const perHost = designPerHostKey(KEY, HOST);
  const headers = [
    { alg: 'HS256', typ: CLIENT_ID_TYP },
    { alg: 'HS256', kid: 'AAAAAAAAAAAAAAAA', typ: CLIENT_ID_TYP },
    { alg: 'HS256', kid },
    { alg: 'HS256', kid, typ: 'JWT' },
  ];
  for (const header of headers) {
    const jws = await new SignJWT(payload()).setProtectedHeader(header).sign(perHost);
    await assertInvalidClient(verify(jws), JSON.stringify(header));
  }
  // RFC 7515 §4.1.11: a critical extension the verifier does not understand fails it.
  const crit = { alg: 'HS256', kid, typ: CLIENT_ID_TYP, crit: ['urn:example:unknown'], 'urn:example:unknown': true };
  await assertInvalidClient(verify(handSignHs256(crit, payload(), perHost)), 'crit');
  // The hand-built control verifies, so the refusal above is about crit.
  assert.deepEqual(await verify(handSignHs256({ alg: 'HS256', kid, typ: CLIENT_ID_TYP }, payload(), perHost)), metadata);
  // The control: the same construction with the full header verifies.
  const good = await new SignJWT(payload()).setProtectedHeader({ alg: 'HS256', kid, typ: CLIENT_ID_TYP }).sign(perHost);
  assert.deepEqual(await verify(good), metadata);
});

test('signed with the right key but the payload fails today\'s metadata rules', async () => {
  const perHost = designPerHostKey(KEY, HOST);
  const sign = (p: Record<string, unknown>) =>
    new SignJWT(p).setProtectedHeader({ alg: 'HS256', kid, typ: CLIENT_ID_TYP }).sign(perHost);
  const cause = await assertInvalidClient(verify(await sign(payload({ redirect_uris: ['http://localhost/cb'] }))), 'localhost');
  assert.ok(isOAuthError(cause) && cause.error === 'invalid_redirect_uri', 'the cause says why');
  await assertInvalidClient(verify(await sign(payload({ response_types: ['token'] }))), 'implicit');
  // A signed payload that asks for more than is served verifies as what is served: the
  // client_id's capabilities are today's validation of it, never its raw payload.
  const trimmed = await verify(await sign(payload({ response_types: ['code', 'token'], grant_types: ['authorization_code', 'implicit'] })));
  assert.deepEqual([trimmed.response_types, trimmed.grant_types], [['code'], ['authorization_code']]);
  await assertInvalidClient(verify(await sign(payload({ nonce: undefined }))), 'no nonce');
  await assertInvalidClient(verify(await sign(payload({ nonce: 'short' }))), 'short nonce');
  const { iat: _iat, ...noIat } = payload();
  await assertInvalidClient(verify(await sign(noIat)), 'no iat');
});

test('a client_id from host A is invalid on host B, with the same configured key', async () => {
  const a = new RegistrationKeys([KEY], 'a.example');
  const b = new RegistrationKeys([KEY], 'b.example');
  const info = await issueClient(metadata, a, { ttlS: null, now: NOW });
  assert.deepEqual(await verify(info.client_id, a), metadata);
  await assertInvalidClient(verify(info.client_id, b), 'other host');
  assert.equal(verifyClientSecret(info.client_id, info.client_secret, b), false);
  // Even with the kid rewritten to host B's: the signature is host A's.
  const [, p, s] = info.client_id.split('.');
  const forged = `${b64json({ alg: 'HS256', kid: b.signing.kid, typ: CLIENT_ID_TYP })}.${p}.${s}`;
  await assertInvalidClient(verify(forged, b), 'kid rewritten');
});

test('expired client_id (oauth2_registration_ttl)', async () => {
  const { client_id } = await issue(60);
  assert.deepEqual(await verify(client_id, keys, NOW + 59), metadata);
  assert.equal(codeOf(await assertInvalidClient(verify(client_id, keys, NOW + 60), 'at exp')), 'ERR_JWT_EXPIRED');
  await assertInvalidClient(verify(client_id, keys, NOW + 10 ** 6), 'long after');
  // Removing exp to extend it breaks the signature.
  const [h, , s] = client_id.split('.');
  const { exp: _exp, ...forever } = parts(client_id).payload;
  await assertInvalidClient(verify(`${h}.${b64json(forever)}.${s}`, keys, NOW + 61), 'exp stripped');
});

test('key rotation: old key verifies, new key signs; removing the old key invalidates its clients', async () => {
  const oldKeys = new RegistrationKeys(['old-key-0123456789'], HOST);
  const before = await issueClient(metadata, oldKeys, { ttlS: null, now: NOW });

  const rotated = new RegistrationKeys(['new-key-0123456789', 'old-key-0123456789'], HOST);
  assert.deepEqual(await verify(before.client_id, rotated), metadata);
  assert.equal(verifyClientSecret(before.client_id, before.client_secret, rotated), true);
  const after = await issueClient(metadata, rotated, { ttlS: null, now: NOW });
  assert.equal(parts(after.client_id).header['kid'], rotated.signing.kid);
  assert.notEqual(rotated.signing.kid, oldKeys.signing.kid);
  await assertInvalidClient(verify(after.client_id, oldKeys), 'new client on a server that only has the old key');

  const retired = new RegistrationKeys(['new-key-0123456789'], HOST);
  await assertInvalidClient(verify(before.client_id, retired), 'old key removed');
  assert.equal(verifyClientSecret(before.client_id, before.client_secret, retired), false);
  assert.deepEqual(await verify(after.client_id, retired), metadata);
  assert.equal(verifyClientSecret(after.client_id, after.client_secret, retired), true);
});

test('not a client_id at all', async () => {
  for (const id of [undefined, null, 42, {}, ['a.b.c'], '', 'not-a-jwt', 'a.b.c', 'a.b.c.d.e', 'x'.repeat(MAX_CLIENT_ID_LENGTH + 1)]) {
    await assertInvalidClient(verify(id), typeof id === 'string' ? id.slice(0, 20) : String(id));
  }
  // A valid client_id padded past the length limit.
  const { client_id } = await issue();
  await assertInvalidClient(verify(client_id + ' '.repeat(MAX_CLIENT_ID_LENGTH)), 'padded');
});

test('the length limit is inclusive: a client_id of exactly MAX_CLIENT_ID_LENGTH characters is looked at', async () => {
  const perHost = designPerHostKey(KEY, HOST);
  const header = { alg: 'HS256', kid, typ: CLIENT_ID_TYP };
  // An unknown claim (dropped by validation) pads the payload to the length wanted.
  const at = (n: number): string => {
    for (let pad = 0; ; pad++) {
      const jws = handSignHs256(header, payload({ pad: 'x'.repeat(pad) }), perHost);
      if (jws.length >= n) return jws;
    }
  };
  const exact = at(MAX_CLIENT_ID_LENGTH);
  assert.equal(exact.length, MAX_CLIENT_ID_LENGTH);
  assert.deepEqual(await verify(exact), metadata);
  // One character more is refused on its length alone, before any parsing.
  const cause = await assertInvalidClient(verify(`${exact}A`), 'one over');
  assert.equal((cause as Error).message, 'client_id is not a string of acceptable length');
});

test('the logged reason of each refusal', async () => {
  const perHost = designPerHostKey(KEY, HOST);
  const unknownKid = handSignHs256({ alg: 'HS256', kid: 'AAAAAAAAAAAAAAAA', typ: CLIENT_ID_TYP }, payload(), perHost);
  assert.equal(((await assertInvalidClient(verify(unknownKid))) as Error).message, 'no registration key of this host has this kid');
  const shortNonce = handSignHs256({ alg: 'HS256', kid, typ: CLIENT_ID_TYP }, payload({ nonce: 'A'.repeat(21) }), perHost);
  assert.equal(((await assertInvalidClient(verify(shortNonce))) as Error).message, 'client_id has no valid nonce');
  for (const nonce of [undefined, 12345678901234567890123]) {
    const bad = handSignHs256({ alg: 'HS256', kid, typ: CLIENT_ID_TYP }, payload({ nonce }), perHost);
    assert.equal(((await assertInvalidClient(verify(bad))) as Error).message, 'client_id has no valid nonce', String(nonce));
  }
  for (const id of [42, '']) {
    assert.equal(((await assertInvalidClient(verify(id))) as Error).message, 'client_id is not a string of acceptable length', String(id));
  }
});
