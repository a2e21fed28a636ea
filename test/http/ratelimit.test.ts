/**
 * The request rate limiter (http/ratelimit.ts) and the address key every limit uses
 * (http/address-key.ts): IPv4 per address, IPv6 per /64, IPv4-mapped IPv6 as IPv4; memory
 * bounded by evicting expired windows, and never by forgetting a live one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressKey } from '../../src/net/address-key.js';
import { RateLimiter } from '../../src/http/ratelimit.js';
import { startOAuth } from '../helpers/oauth.js';

test('address keys: IPv4 as is, IPv6 by its /64 whatever the spelling, IPv4-mapped as IPv4', () => {
  const cases: [string, string][] = [
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::FFFF:c000:0207', '192.0.2.7'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:a:b:c:d', '2001:db8:1:2::/64'],
    ['2001:db8:1:3::1', '2001:db8:1:3::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['64:ff9b::192.0.2.7', '64:ff9b:0:0::/64'],
    ['not-an-address', 'not-an-address'],
  ];
  for (const [ip, key] of cases) assert.equal(addressKey(ip), key, ip);
});

test('attack: at the key cap a client at its limit stays limited; newcomers share one overflow window', () => {
  const limiter = new RateLimiter(1, 60_000, 3);
  const t0 = 1_000_000;
  assert.equal(limiter.take('victim-of-limit', t0), 0);
  assert.ok(limiter.take('victim-of-limit', t0) > 0, 'at its limit');
  assert.equal(limiter.take('b', t0), 0);
  assert.equal(limiter.take('c', t0), 0);
  // The table is full of live windows: flood it with fresh keys.
  assert.equal(limiter.take('d', t0 + 1), 0, 'the first newcomer gets the overflow window');
  for (let i = 0; i < 1000; i++) assert.ok(limiter.take(`flood-${i}`, t0 + 1) > 0, 'later newcomers share it');
  assert.equal(limiter.size, 3, 'memory bounded');
  assert.ok(limiter.take('victim-of-limit', t0 + 2) > 0, 'a live window is never forgotten');
  // Once the windows expire they are evicted, and everyone starts again.
  assert.equal(limiter.take('victim-of-limit', t0 + 60_001), 0);
  assert.equal(limiter.take('e', t0 + 60_001), 0);
  assert.equal(limiter.size, 2);
});

test('expired windows are evicted as time passes, so memory follows the live clients only', () => {
  const limiter = new RateLimiter(5, 1000);
  for (let i = 0; i < 50_000; i++) limiter.take(`k${i}`, i);
  assert.ok(limiter.size <= 1000, `${limiter.size} windows held`);
});

test('attack: one IPv6 /64 shares one registration window, whatever address of it asks', async (t) => {
  const s = await startOAuth(t, 'oauth2_registration_rate_limit = 2\nhttp_trusted_proxies = ["127.0.0.1"]');
  const issuer = s.issuer();
  const from = (address: string) => fetch(`${issuer}/oauth2/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify({ client_name: 'X', client_uri: 'https://app.example.net/', redirect_uris: ['https://app.example.net/cb'] }),
  });
  assert.equal((await from('2001:db8:1:2::1')).status, 201);
  assert.equal((await from('2001:db8:1:2::2')).status, 201);
  const third = await from('2001:db8:1:2::3');
  assert.equal(third.status, 429);
  assert.ok(Number(third.headers.get('retry-after')) > 0);
  assert.equal((await from('2001:db8:1:3::1')).status, 201, 'another /64 has its own window');
  assert.equal((await from('::ffff:127.0.0.9')).status, 201);
  assert.equal((await from('::ffff:127.0.0.9')).status, 201);
  assert.equal((await from('127.0.0.9')).status, 429, 'an IPv4-mapped address is that IPv4 address');
});
