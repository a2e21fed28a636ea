import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issueClient } from '../../../src/oauth/registration/client-id.js';
import { clientSecretFor, verifyClientSecret } from '../../../src/oauth/registration/client-secret.js';
import { RegistrationKeys } from '../../../src/oauth/registration/keys.js';
import { validateClientMetadata } from '../../../src/oauth/registration/metadata.js';
import { HOST, KEY, NOW, WEB_INPUT, designClientSecret } from '../../helpers/oauth-registration.js';

const keys = new RegistrationKeys([KEY], HOST);
const metadata = validateClientMetadata(WEB_INPUT);

test('client_secret = lowercase hex HMAC-SHA256(per_host_key, client_id): known answers', () => {
  // Computed outside Node (Python hmac) for the client_id string "header.payload.signature".
  const k1 = new RegistrationKeys(['correct horse battery staple'], 'example.com');
  assert.equal(
    clientSecretFor('header.payload.signature', k1.signing),
    '0abed033bca9e3ea6b95465037fa98f49a6122ccb61708442ee66fdc11d6009a',
  );
  const k2 = new RegistrationKeys(['clé-secrète-ünïcødé-0123'], 'xmpp.example.org');
  assert.equal(
    clientSecretFor('header.payload.signature', k2.signing),
    'd0d32d778ed35b0ea4f50f295b53d56a7010605d78e94db40515fc6ea2e5b466',
  );
  assert.equal(clientSecretFor('a.b.c', keys.signing), designClientSecret(KEY, HOST, 'a.b.c'));
});

test('the right secret is accepted', async () => {
  const { client_id, client_secret } = await issueClient(metadata, keys, { ttlS: null, now: NOW });
  assert.equal(verifyClientSecret(client_id, client_secret, keys), true);
});

test('a secret off by one character is refused, wherever the difference is', async () => {
  const { client_id, client_secret } = await issueClient(metadata, keys, { ttlS: null, now: NOW });
  const s = client_secret!;
  const swap = (c: string): string => (c === '0' ? '1' : '0');
  for (let i = 0; i < s.length; i++) {
    const wrong = s.slice(0, i) + swap(s[i]!) + s.slice(i + 1);
    assert.equal(verifyClientSecret(client_id, wrong, keys), false, `position ${i}`);
  }
  assert.equal(verifyClientSecret(client_id, s.slice(0, -1), keys), false, 'one short');
  assert.equal(verifyClientSecret(client_id, `${s}0`, keys), false, 'one long');
  assert.equal(verifyClientSecret(client_id, s.toUpperCase(), keys), false, 'uppercase hex');
  assert.equal(verifyClientSecret(client_id, ` ${s}`, keys), false, 'leading space');
});

test("another client's secret, an empty secret, a huge secret, a non-string", async () => {
  const a = await issueClient(metadata, keys, { ttlS: null, now: NOW });
  const b = await issueClient(metadata, keys, { ttlS: null, now: NOW });
  assert.equal(verifyClientSecret(a.client_id, b.client_secret, keys), false);
  assert.equal(verifyClientSecret(b.client_id, a.client_secret, keys), false);
  assert.equal(verifyClientSecret(a.client_id, '', keys), false);
  assert.equal(verifyClientSecret(a.client_id, 'a'.repeat(1 << 20), keys), false);
  for (const bad of [undefined, null, 0, {}, [a.client_secret], Buffer.from(a.client_secret!)]) {
    assert.equal(verifyClientSecret(a.client_id, bad, keys), false, String(bad));
  }
});

test('a secret is tied to its client_id and its host', async () => {
  const { client_id, client_secret } = await issueClient(metadata, keys, { ttlS: null, now: NOW });
  for (const id of [undefined, 42, '', 'garbage', client_id.slice(0, -1), `${client_id}x`]) {
    assert.equal(verifyClientSecret(id, client_secret, keys), false, String(id));
  }
  assert.equal(verifyClientSecret(client_id, client_secret, new RegistrationKeys([KEY], 'other.example')), false);
  assert.equal(verifyClientSecret(client_id, client_secret, new RegistrationKeys(['another-key-0123456789'], HOST)), false);
});
