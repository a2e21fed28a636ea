import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { CLIENT_ID_TYP, clientInformationJson, issueClient, verifyClient } from '../../../src/oauth/registration/client-id.js';
import { RegistrationKeys, keyId } from '../../../src/oauth/registration/keys.js';
import { validateClientMetadata } from '../../../src/oauth/registration/metadata.js';
import {
  HOST,
  KEY,
  NOW,
  WEB_INPUT,
  designClientSecret,
  designPerHostKey,
  parts,
} from '../../helpers/oauth-registration.js';

const keys = new RegistrationKeys([KEY], HOST);
const metadata = validateClientMetadata(WEB_INPUT);

test('issued client: RFC 7591 §3.2.1 response with the metadata and defaults', async () => {
  const info = await issueClient(metadata, keys, { ttlS: null, now: NOW });
  assert.deepEqual(Object.keys(info).slice(0, 4), ['client_id', 'client_secret', 'client_secret_expires_at', 'client_id_issued_at']);
  assert.equal(info.client_id_issued_at, NOW);
  assert.equal(info.client_secret_expires_at, 0, 'no TTL: the secret never expires');
  assert.match(info.client_secret!, /^[0-9a-f]{64}$/);
  const { client_id: _id, client_secret: _s, client_secret_expires_at: _e, client_id_issued_at: _i, ...rest } = info;
  assert.deepEqual(rest, metadata);
  assert.ok(Object.isFrozen(info));
});

test('an independent implementation holding the same key agrees on the key, the secret and the signature', async () => {
  const info = await issueClient(metadata, keys, { ttlS: null, now: NOW });
  // client_secret = lowercase hex of HMAC-SHA256(key = per_host_key, message = client_id).
  assert.equal(info.client_secret, designClientSecret(KEY, HOST, info.client_id));
  // The JWS (RFC 7515 §5.1): HS256 over "header.payload" with per_host_key.
  const [h, p, sig] = info.client_id.split('.');
  const expectedSig = createHmac('sha256', designPerHostKey(KEY, HOST)).update(`${h}.${p}`).digest('base64url');
  assert.equal(sig, expectedSig);
  const { header, payload } = parts(info.client_id);
  assert.deepEqual(header, { alg: 'HS256', kid: keyId(designPerHostKey(KEY, HOST)), typ: CLIENT_ID_TYP });
  const { nonce, iat, ...claims } = payload;
  assert.equal(iat, NOW);
  assert.equal('exp' in payload, false);
  assert.match(String(nonce), /^[A-Za-z0-9_-]{22}$/, '128 random bits, base64url');
  assert.deepEqual(claims, metadata);
});

test('the payload and the response body are exactly the JSON of the claims and of the response object', async () => {
  const variants = [
    WEB_INPUT,
    // Public native client, non-ASCII and JSON-escaped characters in its name, every optional member.
    {
      client_name: 'Chat «Zoë» "quoted" \\ back',
      client_uri: 'https://app.example.net/',
      redirect_uris: ['http://127.0.0.1/cb', 'net.example.app:/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'xmpp offline_access',
      logo_uri: 'https://app.example.net/logo.png',
      software_id: 'id', software_version: '1.0',
      contacts: ['ops@example.net'],
    },
  ];
  for (const input of variants) {
    const md = validateClientMetadata(input);
    for (const ttlS of [null, 3600]) {
      const info = await issueClient(md, keys, { ttlS, now: NOW });
      assert.equal(clientInformationJson(info), JSON.stringify(info));
      const { payload } = parts(info.client_id);
      const expected = ttlS === null ? { ...md, nonce: payload['nonce'], iat: NOW } : { ...md, nonce: payload['nonce'], iat: NOW, exp: NOW + ttlS };
      assert.equal(Buffer.from(info.client_id.split('.')[1]!, 'base64url').toString('utf8'), JSON.stringify(expected));
      assert.deepEqual(await verifyClient(info.client_id, keys, { now: NOW }), md);
    }
    // Metadata that did not come from validation (a copy) gives the same client.
    const info = await issueClient({ ...md }, keys, { ttlS: null, now: NOW });
    assert.equal(clientInformationJson(info), JSON.stringify(info));
    // Client information that issueClient did not make is still answered, as its JSON.
    assert.equal(clientInformationJson({ ...info }), JSON.stringify(info));
    assert.deepEqual(await verifyClient(info.client_id, keys, { now: NOW }), md);
  }
});

test('verifyClient returns the frozen metadata', async () => {
  const info = await issueClient(metadata, keys, { ttlS: null, now: NOW });
  const back = await verifyClient(info.client_id, keys, { now: NOW });
  assert.deepEqual(back, metadata);
  assert.ok(Object.isFrozen(back) && Object.isFrozen(back.redirect_uris));
  // No TTL: still valid a century later.
  assert.deepEqual(await verifyClient(info.client_id, keys, { now: NOW + 100 * 365 * 86400 }), metadata);
  // And with the real clock.
  assert.deepEqual(await verifyClient((await issueClient(metadata, keys, { ttlS: 60 })).client_id, keys), metadata);
});

test('two identical registrations give different ids and secrets', async () => {
  const a = await issueClient(metadata, keys, { ttlS: null, now: NOW });
  const b = await issueClient(metadata, keys, { ttlS: null, now: NOW });
  assert.notEqual(a.client_id, b.client_id);
  assert.notEqual(a.client_secret, b.client_secret);
  assert.notEqual(parts(a.client_id).payload['nonce'], parts(b.client_id).payload['nonce']);
  const nonces = new Set<unknown>();
  for (let i = 0; i < 200; i++) nonces.add(parts((await issueClient(metadata, keys, { ttlS: null })).client_id).payload['nonce']);
  assert.equal(nonces.size, 200);
});

test('with a TTL: exp = iat + ttl, and the secret expires with the client', async () => {
  const info = await issueClient(metadata, keys, { ttlS: 3600, now: NOW });
  assert.equal(parts(info.client_id).payload['exp'], NOW + 3600);
  assert.equal(info.client_secret_expires_at, NOW + 3600);
  assert.deepEqual(await verifyClient(info.client_id, keys, { now: NOW + 3599 }), metadata);
});

test('public clients (token_endpoint_auth_method none) get no secret', async () => {
  const pub = validateClientMetadata({ ...WEB_INPUT, token_endpoint_auth_method: 'none' });
  const info = await issueClient(pub, keys, { ttlS: 600, now: NOW });
  assert.equal('client_secret' in info, false);
  assert.equal('client_secret_expires_at' in info, false);
  assert.equal(info.token_endpoint_auth_method, 'none');
  assert.deepEqual(await verifyClient(info.client_id, keys, { now: NOW }), pub);
});

test('the largest accepted metadata still makes a client_id under 2 KB', async () => {
  // Grow a redirect URI until the size limit refuses it; keep the last accepted input.
  let largest = validateClientMetadata(WEB_INPUT);
  for (let n = 0; ; n += 1) {
    const input = {
      ...WEB_INPUT,
      client_name: '€'.repeat(100),
      redirect_uris: ['https://app.example.com/cb', `https://app.example.com/${'p'.repeat(n)}`, `https://app.example.com/q/${'q'.repeat(300)}`],
      scope: 'xmpp xmpp:client:normal xmpp:account:read xmpp:account:write openid profile offline_access',
    };
    try {
      largest = validateClientMetadata(input);
    } catch {
      break;
    }
  }
  assert.ok(Buffer.byteLength(JSON.stringify(largest)) > 1200);
  const info = await issueClient(largest, keys, { ttlS: 2 ** 31, now: NOW });
  assert.ok(info.client_id.length < 2048, `client_id is ${info.client_id.length} characters`);
  assert.deepEqual(await verifyClient(info.client_id, keys, { now: NOW }), largest);
});

test('misuse is a TypeError: bad ttl, now in milliseconds', async () => {
  for (const ttlS of [0, -1, 1.5, Number.NaN, Infinity, undefined, '60']) {
    await assert.rejects(
      issueClient(metadata, keys, { ttlS: ttlS as number }),
      { name: 'TypeError', message: `options.ttlS must be a positive integer or null, got ${String(ttlS)}` },
      String(ttlS),
    );
  }
  await assert.rejects(issueClient(metadata, keys, { ttlS: null, now: Date.now() }), TypeError);
  await assert.rejects(issueClient(metadata, keys, { ttlS: null, now: NOW + 0.5 }), TypeError);
  await assert.rejects(verifyClient('x', keys, { now: Date.now() }), TypeError);
});

test('now: whole seconds from 0 to 1e11, nothing below or above', async () => {
  for (const now of [0, 1, 1e11]) {
    const info = await issueClient(metadata, keys, { ttlS: null, now });
    assert.equal(info.client_id_issued_at, now);
    assert.deepEqual(await verifyClient(info.client_id, keys, { now }), metadata);
  }
  for (const now of [-1, 1e11 + 1]) {
    await assert.rejects(issueClient(metadata, keys, { ttlS: null, now }), { name: 'TypeError', message: `now must be whole seconds since the epoch, got ${now}` }, String(now));
    await assert.rejects(verifyClient('x', keys, { now }), TypeError, String(now));
  }
});
