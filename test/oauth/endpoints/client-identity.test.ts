/**
 * A client's name and URI are labelled unverified on the sign-in and consent pages unless the
 * redirect URI of the request proves them (RFC 8252 §7.1, §8.6; RFC 7591 §5): a web client's
 * https URI on the client_uri host, or a native client's private-use scheme that is the
 * client_uri host reversed. A loopback URI, another scheme, and a device client prove nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestBrowser, field } from '../../helpers/browser.js';
import { authorize, pkce, register, startOAuth } from '../../helpers/oauth.js';
import { follow, enterCode, registerDevice, started, startDeviceServer } from '../../helpers/oauth-device.js';

const NATIVE = { client_name: 'Conversations', client_uri: 'https://conversations.im', application_type: 'native', token_endpoint_auth_method: 'none' };

function authorizeUrl(issuer: string, clientId: string, redirectUri: string): string {
  const q = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'xmpp', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
  return `${issuer}/oauth2/authorize?${q}`;
}

const UNVERIFIED = /<strong>Conversations<\/strong> <span class="unverified">\(unverified: this name and the address https:\/\/conversations\.im were given by whoever registered the application/;

test('attack: a native client claiming another app\'s name and site is labelled unverified unless its scheme is that site reversed', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const signedIn = new TestBrowser();
  await authorize(issuer, (await register(issuer)).client_id!, { challenge: pkce().challenge, browser: signedIn });

  for (const redirect of ['com.evil.steal:/cb', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'im.conversations.evil:/cb', 'conversations.im:/cb']) {
    const client = await register(issuer, { ...NATIVE, redirect_uris: [redirect] });
    assert.equal(client.status, 201, redirect);
    const consent = await (await signedIn.get(authorizeUrl(issuer, client.client_id!, redirect))).text();
    assert.match(consent, /<h1>Allow access\?<\/h1>/, redirect);
    assert.match(consent, UNVERIFIED, redirect);
    assert.ok(!consent.includes('href="https://conversations.im"'), `${redirect}: no link to the claimed site`);
    // The sign-in page names it with the label too.
    const login = await (await new TestBrowser().get(authorizeUrl(issuer, client.client_id!, redirect))).text();
    assert.match(login, /<strong>Conversations \(unverified\)<\/strong> wants to use your account/, redirect);
  }

  // The reversed domain as scheme proves it; so does a web client's https redirect on its own host.
  const real = await register(issuer, { ...NATIVE, redirect_uris: ['im.conversations:/cb'] });
  const proven = await (await signedIn.get(authorizeUrl(issuer, real.client_id!, 'im.conversations:/cb'))).text();
  assert.ok(!proven.includes('unverified'));
  assert.match(proven, /<strong>Conversations<\/strong> \(<a href="https:\/\/conversations\.im" rel="noopener noreferrer">https:\/\/conversations\.im<\/a>\) asks/);
  const web = await register(issuer, { client_name: 'Web Chat' });
  const webPage = await (await signedIn.get(authorizeUrl(issuer, web.client_id!, 'https://app.example.net/callback'))).text();
  assert.ok(!webPage.includes('unverified'));
  assert.match(webPage, /<strong>Web Chat<\/strong> \(<a href="https:\/\/app\.example\.net\/"/);
});

test('a client registered without a client_uri is labelled unverified, with no address, even on an https redirect', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const signedIn = new TestBrowser();
  await authorize(issuer, (await register(issuer)).client_id!, { challenge: pkce().challenge, browser: signedIn });
  for (const redirect of ['https://app.example.net/callback', 'http://127.0.0.1:8080/protected/redirect_uri']) {
    const client = await register(issuer, { client_name: 'Apache app', client_uri: undefined, redirect_uris: [redirect] });
    assert.equal(client.status, 201, redirect);
    assert.ok(!('client_uri' in client), 'the response says no client_uri was registered');
    const consent = await (await signedIn.get(authorizeUrl(issuer, client.client_id!, redirect))).text();
    assert.match(consent, /<h1>Allow access\?<\/h1>/, redirect);
    assert.match(consent, /<strong>Apache app<\/strong> <span class="unverified">\(unverified: this name was given by whoever registered the application, and nothing proves it belongs to it\)<\/span>/, redirect);
  }
});

test('a device client is labelled unverified on the device sign-in and consent pages', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer, { client_name: 'Conversations', client_uri: 'https://conversations.im' });
  const d = await started(s.issuer, client);
  const b = new TestBrowser();
  const login = await (await follow(b, await enterCode(b, s.issuer, d.user_code), s.issuer)).text();
  assert.match(login, /<strong>Conversations \(unverified\)<\/strong> wants to use your account/);
  const signed = await b.post(`${s.issuer}/oauth2/device/login`, { request: field(login, 'request'), csrf: field(login, 'csrf'), username: 'alice', password: 'secret' });
  const consent = await (await follow(b, signed, s.issuer)).text();
  assert.match(consent, /<h1>Allow access\?<\/h1>/);
  assert.match(consent, UNVERIFIED);
  assert.ok(!consent.includes('href="https://conversations.im"'));
});
