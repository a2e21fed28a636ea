/**
 * Real Postfix (smtpd_sasl_type = dovecot) authenticates SMTP AUTH PLAIN and LOGIN through
 * `gatehouse serve`'s Dovecot face, over the Unix socket and over TCP.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture } from '../helpers/paths.js';
import { smtpAuth, startPostfix } from './postfix.js';
import { startServe } from './serve-process.js';

const PASSWORD = 'p:ä:ss€ wörd';

test('Postfix: AUTH PLAIN and LOGIN, right and wrong, UTF-8 and colons, over the socket and TCP', async (t) => {
  const gh = await startServe([process.execPath, fixture('fast.mjs')], '', { FIXTURE_PASSWORD: PASSWORD });
  t.after(() => gh.stop());
  for (const saslPath of [gh.dovecotSocket, `inet:127.0.0.1:${gh.dovecotPort}`]) {
    const postfix = await startPostfix({ saslPath });
    try {
      const auth = (mechanism: 'PLAIN' | 'LOGIN', user: string, password: string) => smtpAuth({ port: postfix.port, mechanism, user, password });
      const ok = await auth('PLAIN', 'alice@localhost', 'secret');
      assert.equal(ok.code, 235, `${saslPath}: ${ok.text}\n${postfix.logTail()}`);
      assert.deepEqual(ok.mechanisms.sort(), ['LOGIN', 'PLAIN']);
      assert.equal((await auth('PLAIN', 'alice@localhost', 'wrong')).code, 535);
      assert.equal((await auth('LOGIN', 'alice', 'secret')).code, 235);
      assert.equal((await auth('LOGIN', 'alice', 'wrong')).code, 535);
      assert.equal((await auth('PLAIN', 'carol', PASSWORD)).code, 235);
      assert.equal((await auth('LOGIN', 'carol', PASSWORD)).code, 235);
    } finally {
      await postfix.stop();
    }
  }
  assert.ok(!gh.stderr().includes(PASSWORD), 'a password reached the log');
});

test('Postfix: a script that breaks the protocol never lets anyone in', async (t) => {
  const gh = await startServe([process.execPath, fixture('lying.mjs')]);
  t.after(() => gh.stop());
  const postfix = await startPostfix({ saslPath: `inet:127.0.0.1:${gh.dovecotPort}` });
  t.after(() => postfix.stop());
  const r = await smtpAuth({ port: postfix.port, mechanism: 'PLAIN', user: 'alice', password: 'secret' });
  // Postfix 3.7 ignores the temporary mark; the reason still tells the client what happened.
  assert.equal(r.code, 535);
  assert.match(r.text, /Temporary authentication failure/);
});
