/**
 * An independent client drives the device flow: openid-client does discovery (RFC 8414),
 * dynamic registration, the device authorization request (initiateDeviceAuthorization) and
 * the polling (pollDeviceAuthorizationGrant, which waits `interval` seconds between polls and
 * understands authorization_pending and slow_down). The user's part is the test's
 * form-filling browser. Each test waits out at least one real 5 s interval, so they run side
 * by side.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as client from 'openid-client';
import { hashSecret } from '../../../src/oauth/tokens/secrets.js';
import { DEVICE_GRANT, startDeviceServer, userDecides, type DeviceServer } from '../../helpers/oauth-device.js';

const options = { execute: [client.allowInsecureRequests], algorithm: 'oauth2' as const };

function registration(extra: Record<string, unknown> = {}) {
  return {
    client_name: 'openid-client TV',
    client_uri: 'https://tv.example.net/',
    grant_types: [DEVICE_GRANT, 'refresh_token'],
    scope: 'xmpp offline_access',
    ...extra,
  };
}

/** Resolves once the device has been polled at least once. */
async function firstPoll(s: DeviceServer, deviceCode: string): Promise<void> {
  const hash = hashSecret(deviceCode);
  const deadline = Date.now() + 15_000;
  while ((await s.store.findDevice(hash))?.lastPollAt == null) {
    if (Date.now() > deadline) throw new Error('the client never polled');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('openid-client device flow', { concurrency: true }, () => {
  test('discovery, registration, device authorization, pending, approval, tokens, refresh', { timeout: 30_000 }, async (t) => {
    const s = await startDeviceServer(t);
    const config = await client.dynamicClientRegistration(new URL(s.issuer), registration(), undefined, options);
    assert.equal(config.serverMetadata().device_authorization_endpoint, `${s.issuer}/oauth2/device`);
    assert.ok(config.serverMetadata().grant_types_supported?.includes(DEVICE_GRANT));

    const response = await client.initiateDeviceAuthorization(config, { scope: 'xmpp offline_access' });
    assert.match(response.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(response.verification_uri, `${s.issuer}/oauth2/device/verify`);
    assert.equal(response.verification_uri_complete, `${s.issuer}/oauth2/device/verify?user_code=${response.user_code}`);
    assert.equal(response.expires_in, 600);
    assert.equal(response.interval, 5);

    const polling = client.pollDeviceAuthorizationGrant(config, response);
    // The first poll finds the request pending; the user answers before the next one.
    await firstPoll(s, response.device_code);
    const done = await userDecides(s.issuer, response.user_code);
    assert.match(done, /Device connected/);
    const tokens = await polling;
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.scope, 'xmpp offline_access');
    assert.ok(tokens.access_token && tokens.refresh_token);
    assert.equal(tokens.expires_in, 3600);
    assert.equal((await s.store.findDevice(hashSecret(response.device_code)))?.status, 'consumed');

    const info = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(info.active, true);
    assert.equal(info['username'], 'alice');
    assert.equal(info.client_id, config.clientMetadata().client_id);

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    assert.notEqual(refreshed.access_token, tokens.access_token);
  });

  test('a public client: the user denies, the poll ends with access_denied', { timeout: 30_000 }, async (t) => {
    const s = await startDeviceServer(t);
    const config = await client.dynamicClientRegistration(
      new URL(s.issuer),
      registration({ token_endpoint_auth_method: 'none', grant_types: [DEVICE_GRANT], scope: 'xmpp' }),
      undefined,
      options,
    );
    assert.equal(config.clientMetadata().client_secret, undefined);
    const response = await client.initiateDeviceAuthorization(config, { scope: 'xmpp' });
    const polling = client.pollDeviceAuthorizationGrant(config, response);
    const done = await userDecides(s.issuer, response.user_code, { decision: 'deny' });
    assert.match(done, /Access denied/);
    await assert.rejects(polling, (err: Error & { error?: string }) => err.error === 'access_denied');
  });
});
