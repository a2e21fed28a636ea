/**
 * Polling the token endpoint with a device code (RFC 8628 §3.4, §3.5) over real HTTP, in every
 * state: pending, too fast, denied, approved (tokens once), redeemed, expired; bound to the
 * client that started it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashSecret, newSecret } from '../../../src/oauth/tokens/secrets.js';
import { introspect } from '../../helpers/oauth.js';
import { DEVICE_GRANT, poll, registerDevice, started, startDeviceServer, userDecides } from '../../helpers/oauth-device.js';

test('pending: authorization_pending, then slow_down when polled too fast, and the interval grows by 5 s each time', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client);
  const hash = hashSecret(d.device_code);

  const first = await poll(s.issuer, client, d.device_code);
  assert.equal(first.status, 400);
  assert.equal(first.body['error'], 'authorization_pending');
  assert.equal(first.headers.get('cache-control'), 'no-store');
  assert.equal((await s.store.findDevice(hash))?.interval, 5);

  const second = await poll(s.issuer, client, d.device_code);
  assert.equal(second.status, 400);
  assert.equal(second.body['error'], 'slow_down');
  assert.equal((await s.store.findDevice(hash))?.interval, 10);

  const third = await poll(s.issuer, client, d.device_code);
  assert.equal(third.body['error'], 'slow_down');
  assert.equal((await s.store.findDevice(hash))?.interval, 15, '"for this and all subsequent requests"');
});

test('pending: a poll after the interval is on time again', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client);
  const hash = hashSecret(d.device_code);
  const record = (await s.store.findDevice(hash))!;
  // Pretend the previous poll was 6 s ago (explicit times, no sleeping).
  await s.store.pollDevice(hash, Date.now() - 6_000, record.interval);
  const onTime = await poll(s.issuer, client, d.device_code);
  assert.equal(onTime.body['error'], 'authorization_pending');
  assert.equal((await s.store.findDevice(hash))?.interval, 5);
});

test('approved: tokens once; a second poll is invalid_grant', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client);
  const done = await userDecides(s.issuer, d.user_code);
  assert.match(done, /Device connected/);
  assert.match(done, /Test TV can now use your account alice@localhost\./);

  const tokens = await poll(s.issuer, client, d.device_code);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  assert.equal(tokens.headers.get('cache-control'), 'no-store');
  assert.equal(tokens.body['token_type'], 'Bearer');
  assert.equal(tokens.body['scope'], 'xmpp offline_access');
  assert.equal(tokens.body['expires_in'], 3600);
  assert.equal(typeof tokens.body['access_token'], 'string');
  assert.equal(typeof tokens.body['refresh_token'], 'string', 'offline_access and the refresh_token grant give a refresh token');

  const info = await introspect(s.issuer, tokens.body['access_token'] as string, client.auth!);
  assert.equal(info['active'], true);
  assert.equal(info['username'], 'alice');
  assert.equal(info['client_id'], client.client_id);
  assert.equal(info['scope'], 'xmpp offline_access');

  const again = await poll(s.issuer, client, d.device_code);
  assert.equal(again.status, 400);
  assert.equal(again.body['error'], 'invalid_grant');
  assert.equal((await s.store.findDevice(hashSecret(d.device_code)))?.status, 'consumed');
  // The tokens of the first answer are unaffected.
  assert.equal((await introspect(s.issuer, tokens.body['access_token'] as string, client.auth!))['active'], true);

  // The refresh token works like any other.
  const refreshed = await fetch(`${s.issuer}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: client.auth! },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.body['refresh_token'] as string }).toString(),
  });
  assert.equal(refreshed.status, 200);
  assert.ok(!s.log.text().includes(d.device_code));
});

test('denied: access_denied, and it stays denied', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client);
  const done = await userDecides(s.issuer, d.user_code, { decision: 'deny' });
  assert.match(done, /Access denied/);
  assert.match(done, /Test TV was not given access to your account\./);
  for (let i = 0; i < 2; i++) {
    const res = await poll(s.issuer, client, d.device_code);
    assert.equal(res.status, 400);
    assert.equal(res.body['error'], 'access_denied');
  }
});

test('bound to the client that started it: another client gets invalid_grant and changes nothing', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const thief = await registerDevice(s.issuer, { client_name: 'Thief' });
  const d = await started(s.issuer, client);
  const hash = hashSecret(d.device_code);

  const pending = await poll(s.issuer, thief, d.device_code);
  assert.equal(pending.body['error'], 'invalid_grant');
  assert.equal((await s.store.findDevice(hash))?.lastPollAt, null, 'another client\'s poll is not recorded');

  await userDecides(s.issuer, d.user_code);
  const approved = await poll(s.issuer, thief, d.device_code);
  assert.equal(approved.status, 400);
  assert.equal(approved.body['error'], 'invalid_grant');
  assert.equal(approved.body['access_token'], undefined);
  // The rightful client still gets its tokens.
  const mine = await poll(s.issuer, client, d.device_code);
  assert.equal(mine.status, 200, JSON.stringify(mine.body));
});

test('expired: expired_token, whatever its state', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const now = Date.now();
  const plant = async (status: 'pending' | 'denied', userCode: string): Promise<string> => {
    const code = newSecret();
    await s.store.saveDevice({
      deviceHash: hashSecret(code),
      userCode,
      host: 'localhost',
      clientHash: hashSecret(client.client_id!),
      clientId: client.client_id!,
      scope: 'xmpp',
      createdAt: now - 601_000,
      expiresAt: now - 1_000,
      interval: 5,
      lastPollAt: null,
      status,
      grantId: null,
    });
    return code;
  };
  for (const [status, userCode] of [['pending', 'BCDFGHJK'], ['denied', 'LMNPQRST']] as const) {
    const res = await poll(s.issuer, client, await plant(status, userCode));
    assert.equal(res.status, 400, status);
    assert.equal(res.body['error'], 'expired_token', status);
  }
});

test('a grant revoked between approval and the poll gives no tokens', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client);
  await userDecides(s.issuer, d.user_code);
  const approved = (await s.store.findDevice(hashSecret(d.device_code)))!;
  assert.equal(approved.status, 'approved');
  await s.store.revokeGrant(approved.grantId!, Date.now());
  const res = await poll(s.issuer, client, d.device_code);
  assert.equal(res.status, 400);
  assert.equal(res.body['error'], 'access_denied');
});

test('a public client polls with its client_id and gets tokens', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer, { token_endpoint_auth_method: 'none', grant_types: [DEVICE_GRANT], scope: 'xmpp' });
  const d = await started(s.issuer, client, 'xmpp');
  assert.equal((await poll(s.issuer, client, d.device_code)).body['error'], 'authorization_pending');
  await userDecides(s.issuer, d.user_code);
  // Polled a moment ago, but an answer is never held back by the interval.
  const res = await poll(s.issuer, client, d.device_code);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body['scope'], 'xmpp');
  assert.equal(res.body['refresh_token'], undefined, 'no refresh_token grant, no refresh token');
});

test('malformed polls: no device_code, an unknown one, a client without the grant', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const missing = await poll(s.issuer, client, '');
  assert.equal(missing.body['error'], 'invalid_request');
  const unknown = await poll(s.issuer, client, newSecret());
  assert.equal(unknown.body['error'], 'invalid_grant');
  const webApp = await registerDevice(s.issuer, { grant_types: ['authorization_code'], redirect_uris: ['https://tv.example.net/cb'] });
  const d = await started(s.issuer, client);
  const res = await poll(s.issuer, webApp, d.device_code);
  assert.equal(res.body['error'], 'unauthorized_client');
});

test('with the openid scope, the tokens come with an id_token for the user (OIDC)', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client, 'openid xmpp');
  await userDecides(s.issuer, d.user_code);
  const res = await poll(s.issuer, client, d.device_code);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const idToken = res.body['id_token'];
  assert.equal(typeof idToken, 'string');
  const claims = JSON.parse(Buffer.from((idToken as string).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  assert.equal(claims['iss'], s.issuer);
  assert.equal(claims['sub'], 'alice@localhost');
  assert.equal(claims['aud'], client.client_id);
  assert.equal(claims['nonce'], undefined, 'no nonce in the device flow');
});
