/**
 * Real Prosody 0.12 (Debian's prosody + prosody-modules' mod_auth_dovecot) authenticates
 * through `gatehouse serve`'s Dovecot face; a real XMPP client (slixmpp) logs in over c2s.
 * If Prosody or slixmpp is missing, these tests fail: they do not skip.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../helpers/paths.js';
import { startProsody } from './prosody.js';
import { startServe } from './serve-process.js';
import { xmppLogin, xmppLoginDetailed } from './xmpp.js';

const PASSWORD = 'p:ä:ss€ wörd';

test('Prosody over the Dovecot protocol (TCP): right, wrong, unknown, UTF-8 and colons, slow and crashing scripts', async (t) => {
  const gh = await startServe([process.execPath, fixture('slow-user.mjs')], 'external_auth_timeout = 1\nexternal_auth_processes = 2', {
    FIXTURE_PASSWORD: PASSWORD,
    FIXTURE_SLOW_MS: '60000',
  });
  t.after(() => gh.stop());
  const prosody = await startProsody({ dovecotPort: gh.dovecotPort });
  t.after(() => prosody.stop());
  const login = (jid: string, password: string) => xmppLogin({ port: prosody.port, jid, password });

  assert.equal(await login('alice', 'secret'), true, prosody.logTail());
  assert.equal(await login('alice', 'wrong'), false);
  assert.equal(await login('nobody1', 'x'), false, 'the fixture knows no password of nobody1');
  assert.equal(await login('carol', PASSWORD), true, 'UTF-8 and colons arrive byte-exact');
  assert.equal(await login('carol', PASSWORD.normalize('NFD')), false, 'no normalization of passwords');

  // A login whose script answer never comes: refused after Gatehouse's 1 s timeout, as a
  // temporary failure, and Prosody (which waits on its auth server) is free again right after.
  const slow = await xmppLoginDetailed({ port: prosody.port, jid: 'slowpoke', password: 'secret', timeoutMs: 15_000 });
  assert.equal(slow.ok, false);
  assert.match(slow.line, /temporary-auth-failure/);
  assert.equal(await login('alice', 'secret'), true);
  assert.ok(gh.stderr().includes('ERR_EXTAUTH_TIMEOUT'));
  assert.ok(!gh.stderr().includes(PASSWORD) && !gh.stderr().includes('secret'), 'a password reached the log');
});

test('Prosody with auth_append_host over the Unix socket; a crashing script is recovered from', async (t) => {
  const gh = await startServe([process.execPath, fixture('crash-query.mjs')]);
  t.after(() => gh.stop());
  const prosody = await startProsody({ dovecotSocket: gh.dovecotSocket, appendHost: true });
  t.after(() => prosody.stop());
  const login = (jid: string, password: string) => xmppLogin({ port: prosody.port, jid, password });
  assert.equal(await login('alice', 'secret'), true, prosody.logTail());
  assert.equal(await login('alice', 'crash'), false, 'the script died mid-query: refused');
  assert.equal(await login('alice', 'secret'), true, 'a replacement answers');
  assert.equal(await login('alice', 'wrong'), false);
});
