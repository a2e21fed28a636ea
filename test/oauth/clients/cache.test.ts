/**
 * The verified-client cache: a cached verification answers only for the very client_id string
 * it verified, under the keys of the cache's host, until that client_id expires.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ClientCache } from '../../../src/oauth/clients/cache.js';
import { issueClient } from '../../../src/oauth/registration/client-id.js';
import { RegistrationKeys } from '../../../src/oauth/registration/keys.js';
import { validateClientMetadata } from '../../../src/oauth/registration/metadata.js';
import { HOST, KEY, WEB_INPUT, assertInvalidClient, b64json, designClientSecret, parts } from '../../helpers/oauth-registration.js';

const keys = new RegistrationKeys([KEY], HOST);
const metadata = validateClientMetadata(WEB_INPUT);
const publicMetadata = validateClientMetadata({ ...WEB_INPUT, token_endpoint_auth_method: 'none' });
const issue = (ttlS: number | null = null, k = keys, md = metadata) => issueClient(md, k, { ttlS });

test('a verified client: its metadata, hash, secret and expiry', async () => {
  const cache = new ClientCache(keys);
  const info = await issue(3600);
  const c = await cache.verify(info.client_id);
  assert.equal(c.clientId, info.client_id);
  assert.deepEqual(c.metadata, metadata);
  assert.equal(c.clientHash, createHash('sha256').update(info.client_id, 'utf8').digest('hex'));
  assert.equal(c.secret, info.client_secret);
  assert.equal(c.secret, designClientSecret(KEY, HOST, info.client_id));
  assert.equal(c.expiresAt, (parts(info.client_id).payload['exp'] as number) * 1000);
  // Without a TTL the entry never expires; a public client has no secret.
  const forever = await cache.verify((await issue(null)).client_id);
  assert.equal(forever.expiresAt, Infinity);
  const pub = await cache.verify((await issue(null, keys, publicMetadata)).client_id);
  assert.equal(pub.secret, null);
  assert.equal(pub.metadata.token_endpoint_auth_method, 'none');
});

test('the secret of a client_id signed with an older key is derived with that key', async () => {
  const old = new RegistrationKeys(['old-key-0123456789'], HOST);
  const info = await issue(null, old);
  const rotated = new RegistrationKeys(['new-key-0123456789', 'old-key-0123456789'], HOST);
  const c = await new ClientCache(rotated).verify(info.client_id);
  assert.equal(c.secret, info.client_secret);
  assert.equal(ClientCache.secretMatches(c, info.client_secret), true);
});

test('a cached verification answers for that client_id only', async () => {
  const cache = new ClientCache(keys);
  const a = await issue();
  const b = await issue();
  const ca = await cache.verify(a.client_id);
  assert.equal(await cache.verify(a.client_id), ca, 'the second verification is the cached one');
  const cb = await cache.verify(b.client_id);
  assert.notEqual(cb, ca);
  assert.equal(cb.clientId, b.client_id);
  assert.equal(cb.secret, b.client_secret);
  // Tampered or truncated forms of a cached client_id are verified, and refused.
  const [h, p, s] = a.client_id.split('.') as [string, string, string];
  const evil = { ...parts(a.client_id).payload, redirect_uris: ['https://app.example.com/evil'] };
  await assertInvalidClient(cache.verify(`${h}.${b64json(evil)}.${s}`), 'payload swapped');
  await assertInvalidClient(cache.verify(`${h}.${p}`), 'truncated');
  for (const bad of [undefined, null, 42, [a.client_id], { toString: () => a.client_id }]) {
    await assertInvalidClient(cache.verify(bad), String(bad));
  }
  // A refused client_id is not cached either: it stays refused.
  await assertInvalidClient(cache.verify(`${h}.${p}`), 'truncated, again');
  assert.equal(await cache.verify(a.client_id), ca);
});

test("a client_id cached on one host is invalid on another host's cache", async () => {
  const other = new RegistrationKeys([KEY], 'other.example');
  const here = new ClientCache(keys);
  const there = new ClientCache(other);
  const info = await issue();
  assert.equal((await here.verify(info.client_id)).clientId, info.client_id);
  await assertInvalidClient(there.verify(info.client_id), 'other host');
});

test('a cached client_id is refused once it expires', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const cache = new ClientCache(keys);
  const info = await issue(60);
  const exp = parts(info.client_id).payload['exp'] as number;
  const first = await cache.verify(info.client_id);
  t.mock.timers.tick(exp * 1000 - 1 - Date.now());
  assert.equal(await cache.verify(info.client_id), first, 'cached until its last millisecond');
  t.mock.timers.tick(1);
  await assertInvalidClient(cache.verify(info.client_id), 'at exp');
  await assertInvalidClient(cache.verify(info.client_id), 'still after');
});

test('entries are bounded, oldest out first', async () => {
  const cache = new ClientCache(keys, 2);
  const [a, b, c] = await Promise.all([issue(), issue(), issue()]);
  const ca = await cache.verify(a.client_id);
  const cb = await cache.verify(b.client_id);
  assert.equal(await cache.verify(a.client_id), ca, 'at the bound, both are held');
  const cc = await cache.verify(c.client_id);
  // a, the oldest, was dropped for c: verified again, a new entry.
  const ca2 = await cache.verify(a.client_id);
  assert.notEqual(ca2, ca);
  assert.deepEqual(ca2, ca);
  // which dropped b; c stayed.
  assert.equal(await cache.verify(c.client_id), cc);
  assert.notEqual(await cache.verify(b.client_id), cb);
});

test('secretMatches: the right secret only, and never for a public client', async () => {
  const cache = new ClientCache(keys);
  const a = await cache.verify((await issue()).client_id);
  const b = await cache.verify((await issue()).client_id);
  assert.equal(ClientCache.secretMatches(a, a.secret!), true);
  assert.equal(ClientCache.secretMatches(a, b.secret!), false, "another client's secret");
  assert.equal(ClientCache.secretMatches(a, a.secret!.slice(0, -1)), false);
  assert.equal(ClientCache.secretMatches(a, ''), false);
  assert.equal(ClientCache.secretMatches(a, undefined), false);
  const pub = await cache.verify((await issue(null, keys, publicMetadata)).client_id);
  assert.equal(ClientCache.secretMatches(pub, ''), false);
  assert.equal(ClientCache.secretMatches(pub, 'null'), false);
  assert.equal(ClientCache.secretMatches(pub, a.secret!), false);
});

test('an expired entry is dropped when it is refused: it holds no place in the bound', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const cache = new ClientCache(keys, 2);
  const forever = await issue(null);
  const brief = await issue(60);
  const later = await issue(null);
  const cf = await cache.verify(forever.client_id);
  await cache.verify(brief.client_id);
  t.mock.timers.tick(61_000);
  await assertInvalidClient(cache.verify(brief.client_id), 'expired');
  // Only `forever` is held now: `later` takes the free place and evicts nothing.
  await cache.verify(later.client_id);
  assert.equal(await cache.verify(forever.client_id), cf);
});
