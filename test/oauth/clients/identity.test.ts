import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientDisplay, identityProven } from '../../../src/oauth/clients/identity.js';

test('a client registered without a client_uri is never proven, and no address is shown', () => {
  const client: { client_name: string; client_uri?: string } = { client_name: 'Apache app' };
  for (const redirect of ['https://app.example.com/cb', 'http://127.0.0.1:8080/cb', 'com.example.app:/cb', null]) {
    assert.equal(identityProven(client, redirect), false, String(redirect));
    const d = clientDisplay(client, redirect);
    assert.equal(d.name, 'Apache app (unverified)');
    assert.equal(d.uri, '');
    assert.equal(
      String(d.identity),
      '<strong>Apache app</strong> <span class="unverified">(unverified: this name was given by whoever registered the application, and nothing proves it belongs to it)</span>',
    );
  }
});

test('with a client_uri, an https redirect on its host still proves it', () => {
  const client = { client_name: 'Wiki', client_uri: 'https://wiki.example.org/' };
  assert.equal(identityProven(client, 'https://wiki.example.org/protected/redirect_uri'), true);
  assert.equal(clientDisplay(client, 'https://wiki.example.org/protected/redirect_uri').name, 'Wiki');
  assert.equal(identityProven(client, 'http://127.0.0.1:8080/protected/redirect_uri'), false);
});
