/**
 * Redirect URI matching (RFC 9700 §4.1.3, RFC 8252 §7.3): exact, character for character,
 * except the port of a loopback IP literal. Each near miss an attacker could register or send
 * is tried.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchRedirectUri, withParams } from '../../src/oauth/authorize/redirect.js';

const WEB = ['https://app.example.net/callback'];
const NATIVE = ['http://127.0.0.1:8123/cb?x=1', 'http://[::1]/cb', 'org.example.chat:/cb'];

test('an exact registered URI matches; without one, the only registered URI is chosen', () => {
  assert.equal(matchRedirectUri(WEB, 'https://app.example.net/callback'), 'https://app.example.net/callback');
  assert.equal(matchRedirectUri(WEB, undefined), 'https://app.example.net/callback');
  assert.equal(matchRedirectUri(NATIVE, undefined), null, 'several registered: the request must name one');
  assert.equal(matchRedirectUri(NATIVE, 'org.example.chat:/cb'), 'org.example.chat:/cb');
});

test('attack: near misses of a web redirect URI do not match', () => {
  for (const uri of [
    'https://app.example.net/callback/',
    'https://app.example.net/callback?x=1',
    'https://app.example.net/callback#f',
    'https://app.example.net/Callback',
    'https://APP.example.net/callback',
    'https://app.example.net:443/callback',
    'https://app.example.net.evil.example/callback',
    'http://app.example.net/callback',
    'https://app.example.net/callback/../evil',
  ]) {
    assert.equal(matchRedirectUri(WEB, uri), null, uri);
  }
});

test('loopback: any port, everything else exact', () => {
  assert.equal(matchRedirectUri(NATIVE, 'http://127.0.0.1:40555/cb?x=1'), 'http://127.0.0.1:40555/cb?x=1');
  assert.equal(matchRedirectUri(NATIVE, 'http://127.0.0.1/cb?x=1'), 'http://127.0.0.1/cb?x=1');
  assert.equal(matchRedirectUri(NATIVE, 'http://[::1]:9/cb'), 'http://[::1]:9/cb');
  for (const uri of [
    'http://127.0.0.1:40555/cb', // query differs
    'http://127.0.0.1:40555/cb?x=2',
    'http://127.0.0.1:40555/cb2?x=1', // path differs
    'https://127.0.0.1:40555/cb?x=1', // scheme differs
    'http://[::1]:40555/cb?x=1', // the other loopback literal than registered
    'http://127.0.0.1:9/cb?x=1'.replace('127.0.0.1', 'localhost'),
    'http://127.0.0.2:40555/cb?x=1',
    'http://127.0.0.1.evil.example:40555/cb?x=1',
    'not a uri',
  ]) {
    assert.equal(matchRedirectUri(NATIVE, uri), null, uri);
  }
  // A registered non-loopback URI grants no port freedom.
  assert.equal(matchRedirectUri(['https://app.example.net:8443/cb'], 'https://app.example.net:9443/cb'), null);
});

test('attack: loopback look-alikes — a loopback URI inside another, text after it, a port beyond 65535', () => {
  // Positive controls: any port of the registered loopback URI, up to the highest one, also
  // for a URI registered without a path.
  assert.equal(matchRedirectUri(NATIVE, 'http://127.0.0.1:65535/cb?x=1'), 'http://127.0.0.1:65535/cb?x=1');
  assert.equal(matchRedirectUri(NATIVE, 'http://[::1]:1/cb'), 'http://[::1]:1/cb');
  assert.equal(matchRedirectUri(['http://127.0.0.1'], 'http://127.0.0.1:5000'), 'http://127.0.0.1:5000');
  assert.equal(matchRedirectUri(['http://[::1]:8080'], 'http://[::1]'), 'http://[::1]');
  for (const uri of [
    // The registered loopback URI at the end of another URI.
    'https://evil.example/http://127.0.0.1:1/cb?x=1',
    'https://evil.example/?r=http://[::1]:1/cb',
    'xhttp://127.0.0.1:40555/cb?x=1',
    // Text a browser would act on after the registered path and query.
    'http://127.0.0.1:40555/cb?x=1#evil',
    'http://127.0.0.1:40555/cb?x=1#',
    'http://[::1]:9/cb\\evil.example',
    'http://[::1]:9/cb x',
    // Ports no socket has: 65536 and above, a leading zero, a sixth digit.
    'http://127.0.0.1:65536/cb?x=1',
    'http://127.0.0.1:99999/cb?x=1',
    'http://[::1]:65536/cb',
    'http://127.0.0.1:08123/cb?x=1',
    'http://127.0.0.1:123456/cb?x=1',
  ]) {
    assert.equal(matchRedirectUri(NATIVE, uri), null, uri);
  }
  assert.equal(matchRedirectUri(['http://127.0.0.1'], 'http://127.0.0.1:65536'), null);
  assert.equal(matchRedirectUri(['http://127.0.0.1'], 'http://127.0.0.1:5000#f'), null);
});

test('parameters are added to the redirect URI, keeping its own query', () => {
  assert.equal(withParams('https://app.example.net/cb?a=1', { code: 'c d', state: undefined, iss: 'https://i/x' }), 'https://app.example.net/cb?a=1&code=c+d&iss=https%3A%2F%2Fi%2Fx');
});
