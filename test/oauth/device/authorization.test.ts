/**
 * POST /oauth2/device (RFC 8628 §3.1, §3.2) over real HTTP: the response, what is stored (the
 * device code only as a hash), client authentication as at the token endpoint, the grant the
 * client registered, scope validation, and the metadata that announces it (RFC 8414, §4).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashSecret } from '../../../src/oauth/tokens/secrets.js';
import { DEVICE_GRANT, registerDevice, startDevice, startDeviceServer } from '../../helpers/oauth-device.js';

const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

test('metadata announces the device authorization endpoint and grant type', async (t) => {
  const s = await startDeviceServer(t);
  const meta = (await (await fetch(`${s.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
  assert.equal(meta['device_authorization_endpoint'], `${s.issuer}/oauth2/device`);
  assert.ok((meta['grant_types_supported'] as string[]).includes(DEVICE_GRANT));
  const other = (await (await fetch(`${s.otherIssuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
  assert.equal(other['device_authorization_endpoint'], `${s.otherIssuer}/oauth2/device`);
});

test('a confidential client gets codes; only the device code hash is stored', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const res = await startDevice(s.issuer, client, { scope: 'xmpp offline_access' });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const b = res.body;
  assert.deepEqual(Object.keys(b).sort(), ['device_code', 'expires_in', 'interval', 'user_code', 'verification_uri', 'verification_uri_complete']);
  assert.match(b['device_code'] as string, /^[A-Za-z0-9_-]{43}$/);
  assert.match(b['user_code'] as string, USER_CODE);
  assert.equal(b['verification_uri'], `${s.issuer}/oauth2/device/verify`);
  assert.equal(b['verification_uri_complete'], `${s.issuer}/oauth2/device/verify?user_code=${b['user_code']}`);
  assert.equal(b['expires_in'], 600);
  assert.equal(b['interval'], 5);

  const stored = await s.store.findDevice(hashSecret(b['device_code'] as string));
  assert.ok(stored !== null);
  assert.equal(await s.store.findDevice(b['device_code'] as string), null, 'the device code itself is not a key');
  assert.equal(stored.userCode, (b['user_code'] as string).replace('-', ''));
  assert.equal(stored.status, 'pending');
  assert.equal(stored.scope, 'xmpp offline_access');
  assert.equal(stored.host, 'localhost');
  assert.equal(stored.interval, 5);
  assert.equal(stored.expiresAt - stored.createdAt, 600_000);
  assert.equal(stored.clientHash, hashSecret(client.client_id!));
  assert.ok(!s.log.text().includes(b['device_code'] as string), 'the device code is never logged');
  assert.ok(!s.log.text().includes((b['user_code'] as string).replace('-', '')), 'the user code is never logged');

  // Two requests, two different pairs of codes.
  const again = await startDevice(s.issuer, client, { scope: 'xmpp' });
  assert.notEqual(again.body['device_code'], b['device_code']);
  assert.notEqual(again.body['user_code'], b['user_code']);
});

test('a public client authenticates with client_id alone; client_secret_post works too', async (t) => {
  const s = await startDeviceServer(t);
  const pub = await registerDevice(s.issuer, { token_endpoint_auth_method: 'none' });
  assert.equal(pub.client_secret, undefined);
  const res = await startDevice(s.issuer, pub, { scope: 'xmpp' });
  assert.equal(res.status, 200, JSON.stringify(res.body));

  const post = await registerDevice(s.issuer, { token_endpoint_auth_method: 'client_secret_post' });
  const viaBody = await startDevice(s.issuer, { ...post, auth: undefined, ident: { client_id: post.client_id!, client_secret: post.client_secret! } }, { scope: 'xmpp' });
  assert.equal(viaBody.status, 200, JSON.stringify(viaBody.body));
});

test('client authentication is that of the token endpoint', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const cases: [string, Record<string, string>, string | undefined][] = [
    ['no client at all', { scope: 'xmpp' }, undefined],
    ['a confidential client without its secret', { client_id: client.client_id!, scope: 'xmpp' }, undefined],
    ['a wrong secret', { client_id: client.client_id!, client_secret: 'f'.repeat(64), scope: 'xmpp' }, undefined],
    ['a tampered client_id', { client_id: `${client.client_id!}x`, scope: 'xmpp' }, undefined],
  ];
  for (const [why, form, auth] of cases) {
    const res = await startDevice(s.issuer, { ...client, auth, ident: {} }, form);
    assert.equal(res.status, 401, why);
    assert.equal(res.body['error'], 'invalid_client', why);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="oauth2"', why);
  }
  // A client_id of this host is not a client of another one.
  const cross = await startDevice(s.otherIssuer, client, { scope: 'xmpp' });
  assert.equal(cross.body['error'], 'invalid_client');
});

test('only a client that registered the device grant may start one', async (t) => {
  const s = await startDeviceServer(t);
  const webApp = await registerDevice(s.issuer, { grant_types: ['authorization_code'], redirect_uris: ['https://tv.example.net/cb'] });
  const res = await startDevice(s.issuer, webApp, { scope: 'xmpp' });
  assert.equal(res.status, 400);
  assert.equal(res.body['error'], 'unauthorized_client');
});

test('scope is validated as at /authorize', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer, { scope: 'xmpp offline_access' });
  const unknown = await startDevice(s.issuer, client, { scope: 'xmpp admin' });
  assert.equal(unknown.body['error'], 'invalid_scope');
  const none = await startDevice(s.issuer, client, {});
  assert.equal(none.body['error'], 'invalid_scope');
  const unregistered = await startDevice(s.issuer, client, { scope: 'openid' });
  assert.equal(unregistered.body['error'], 'invalid_scope');
  // Scopes the client did not register are dropped, as at /authorize.
  const narrowed = await startDevice(s.issuer, client, { scope: 'xmpp openid' });
  assert.equal(narrowed.status, 200);
  const stored = await s.store.findDeviceByUserCode((narrowed.body['user_code'] as string).replace('-', ''));
  assert.equal(stored?.scope, 'xmpp');
});

test('the body must be a form, each parameter once', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const json = await fetch(`${s.issuer}/oauth2/device`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: client.auth! },
    body: JSON.stringify({ scope: 'xmpp' }),
  });
  // Refused by the edge before any handler (RFC 8628 §3.1 takes a form): 415 Unsupported Media Type.
  assert.equal(json.status, 415);
  assert.equal(((await json.json()) as Record<string, unknown>)['error'], 'invalid_request');
  const dup = await fetch(`${s.issuer}/oauth2/device`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: client.auth! },
    body: 'scope=xmpp&scope=openid',
  });
  assert.equal(dup.status, 400);
  assert.equal(((await dup.json()) as Record<string, unknown>)['error'], 'invalid_request');
  const get = await fetch(`${s.issuer}/oauth2/device`);
  assert.equal(get.status, 404);
});
