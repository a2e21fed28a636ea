/** `gatehouse extauth` as ejabberd and Prosody run it: a real child process on pipes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeFrame16 } from '../../src/extauth/wire/frame16.js';
import { childrenOf, fixtureCommand, startBridge, writeConfig } from '../helpers/bridge.js';
import { killQuiet } from '../helpers/cleanup.js';
import { isGone, waitFor } from '../helpers/engine.js';
import { fixture } from '../helpers/paths.js';

const frame = (s: string | Buffer): Buffer => encodeFrame16(Buffer.isBuffer(s) ? s : Buffer.from(s));
const YES = Buffer.from([0, 2, 0, 1]);
const NO = Buffer.from([0, 2, 0, 0]);

test('generic: back-to-back queries run concurrently across the pool and are answered in order', async (t) => {
  const config = writeConfig(`${fixtureCommand(fixture('slow.mjs'))}
external_auth_processes = 4
log_level = "silent"`);
  const b = startBridge(config, 'generic', { FIXTURE_DELAY_MS: '0' });
  t.after(() => b.stop());
  // The first query takes 400 ms, the next ones none: their answers wait for it.
  b.child.stdin!.write(
    'auth:a:localhost:delay-400\nauth:b:localhost:wrong\nauth:c:localhost:delay-50\nisuser:nobody:localhost\nauth:d:localhost:secret\n',
  );
  assert.equal((await b.waitForBytes(10)).toString(), '1\n0\n1\n0\n1\n');
  b.child.stdin!.end();
  assert.deepEqual(await b.exited, { code: 0, signal: null });
});

test('thousands of queries in one write wait in the bridge instead of overflowing a small queue', async (t) => {
  const config = writeConfig(`${fixtureCommand(fixture('fast.mjs'))}
external_auth_processes = 2
external_auth_queue_limit = 10
log_level = "warn"`);
  const b = startBridge(config, 'generic');
  t.after(() => b.stop());
  const n = 5000;
  b.child.stdin!.write('auth:alice:localhost:secret\n'.repeat(n));
  const out = (await b.waitForBytes(2 * n, 30_000)).toString();
  assert.equal(out, '1\n'.repeat(n));
  assert.equal(b.stderr(), '', 'nothing refused, nothing to warn about');
});

test('ejabberd serve protocol in front of a generic script, and generic in front of an ejabberd script', async (t) => {
  const toGeneric = startBridge(writeConfig(`${fixtureCommand(fixture('fast.mjs'))}\nlog_level = "silent"`), 'ejabberd');
  t.after(() => toGeneric.stop());
  toGeneric.child.stdin!.write(
    Buffer.concat([frame('auth:alice:localhost:secret'), frame('auth:alice:localhost:nope'), frame('isuser:bob:localhost'), frame('removeuser:bob:localhost')]),
  );
  assert.deepEqual(await toGeneric.waitForBytes(16), Buffer.concat([YES, NO, YES, YES]));

  const toEjabberd = startBridge(
    writeConfig(`${fixtureCommand(fixture('fast.mjs'))}\nexternal_auth_protocol = "ejabberd"\nlog_level = "silent"`),
    'generic',
    { FIXTURE_PROTOCOL: 'ejabberd' },
  );
  t.after(() => toEjabberd.stop());
  toEjabberd.child.stdin!.write('auth:alice:localhost:pw-alice\r\nauth:alice:localhost:pw-bob\ntryregister:x:localhost:p\n');
  assert.equal((await toEjabberd.waitForBytes(6)).toString(), '1\n0\n1\n');
});

test('a newline smuggled inside an ejabberd frame never reaches a generic script', async (t) => {
  const config = writeConfig(`${fixtureCommand(fixture('fast.mjs'))}\nlog_level = "warn"`);
  const dir = config.slice(0, config.lastIndexOf('/'));
  const b = startBridge(config, 'ejabberd', { RECORD_FILE: `${dir}/rec.hex` });
  t.after(() => b.stop());
  b.child.stdin!.write(
    Buffer.concat([
      frame('auth:alice:localhost:x\nsetpass:admin:localhost:owned'),
      frame('auth:alice:localhost:x\nauth:admin:localhost:secret'),
      frame('setpass:alice:localhost:x\rsetpass:admin:localhost:owned'),
      frame(Buffer.from('auth:alice:localhost:x\0y')),
      frame('auth:alice:localhost:wrong'),
    ]),
  );
  assert.deepEqual(await b.waitForBytes(20), Buffer.concat([NO, NO, NO, NO, NO]));
  const { readFileSync } = await import('node:fs');
  const seen = readFileSync(`${dir}/rec.hex`, 'utf8').trim().split('\n').map((h) => Buffer.from(h, 'hex').toString());
  assert.deepEqual(seen, ['auth:alice:localhost:wrong']);
  // The refusals were logged with their reason, and without the password.
  assert.match(b.stderr(), /password contains CR, LF or NUL/);
  assert.ok(!b.stderr().includes('owned'));
});

test('errors, malformed and unknown queries are answered "no", and the stream stays in step', async (t) => {
  const config = writeConfig(`log_level = "silent"
[hosts."bad.example"]
${fixtureCommand(fixture('lying.mjs'))}
[hosts."localhost"]
${fixtureCommand(fixture('fast.mjs'))}
external_auth_max_query_bytes = 100`);
  const b = startBridge(config, 'generic');
  t.after(() => b.stop());
  const long = 'x'.repeat(5000);
  b.child.stdin!.write(
    [
      'auth:alice:bad.example:secret', // script breaks the protocol -> error -> 0
      'auth:alice:localhost:secret', // 1
      'frobnicate:alice:localhost', // unknown command -> 0
      'auth:alice', // too few fields -> 0
      `auth:alice:localhost:${long}`, // too long -> 0
      'isuser:alice:nohost.example', // no script for that host -> 0
      'isuser:alice:localhost', // 1
      '',
    ].join('\n'),
  );
  assert.equal((await b.waitForBytes(14)).toString(), '0\n1\n0\n0\n0\n0\n1\n');
});

test('on EOF the bridge answers what is pending, exits 0, and leaves no process behind', async (t) => {
  const config = writeConfig(`${fixtureCommand(fixture('slow.mjs'))}\nexternal_auth_processes = 3\nlog_level = "silent"`);
  const b = startBridge(config, 'generic', { FIXTURE_DELAY_MS: '0' });
  t.after(() => b.stop());
  const scripts: number[] = [];
  // Whatever fails below, no script is left behind either.
  t.after(() => {
    for (const pid of scripts) killQuiet(-pid, 'SIGKILL');
  });
  assert.ok(await waitFor(() => childrenOf(b.child.pid!).length === 3), 'three scripts started');
  scripts.push(...childrenOf(b.child.pid!));
  assert.equal(scripts.length, 3);
  b.child.stdin!.end('auth:a:localhost:delay-200\n');
  assert.deepEqual(await b.exited, { code: 0, signal: null });
  assert.equal(b.stdout().toString(), '1\n');
  for (const pid of scripts) assert.ok(await waitFor(() => isGone(pid)), `script ${pid} left behind`);
});

test('SIGTERM stops the bridge and its scripts', async (t) => {
  const config = writeConfig(`${fixtureCommand(fixture('fast.mjs'))}\nexternal_auth_processes = 2\nlog_level = "silent"`);
  const b = startBridge(config, 'ejabberd');
  t.after(() => b.stop());
  const scripts: number[] = [];
  t.after(() => {
    for (const pid of scripts) killQuiet(-pid, 'SIGKILL');
  });
  b.child.stdin!.write(frame('isuser:a:localhost'));
  await b.waitForBytes(4);
  scripts.push(...childrenOf(b.child.pid!));
  assert.equal(scripts.length, 2);
  b.child.kill('SIGTERM');
  assert.equal((await b.exited).code, 0);
  for (const pid of scripts) assert.ok(await waitFor(() => isGone(pid)), `script ${pid} left behind`);
});

test('a bad configuration is refused at start with every problem named', async (t) => {
  const b = startBridge(writeConfig('extauth_program = 42\nexternal_auth_timeout = "soon"\nbogus = 1'), 'generic');
  t.after(() => b.stop());
  const noScript = startBridge(writeConfig('log_level = "info"'), 'generic');
  t.after(() => noScript.stop());
  const { code } = await b.exited;
  assert.equal(code, 2);
  assert.match(b.stderr(), /extauth_program: expected a command string/);
  assert.match(b.stderr(), /external_auth_timeout: expected a number/);
  assert.match(b.stderr(), /bogus: unknown key/);
  assert.equal((await noScript.exited).code, 2);
  assert.match(noScript.stderr(), /external_auth_command is not set/);
});

test('SIGHUP on pipes renews the script processes; queries sent around it are all answered in order', async (t) => {
  const config = writeConfig(`${fixtureCommand(fixture('slow.mjs'))}
external_auth_processes = 2
log_level = "info"`);
  const b = startBridge(config, 'generic', { FIXTURE_DELAY_MS: '20' });
  t.after(() => b.stop());
  b.child.stdin!.write('auth:a:localhost:secret\n');
  await b.waitForBytes(2);
  const before = childrenOf(b.child.pid!);
  assert.equal(before.length, 2);
  // Queries in flight and queued while the signal arrives, then more after it.
  b.child.stdin!.write('auth:a:localhost:secret\nauth:a:localhost:wrong\n'.repeat(10));
  b.child.kill('SIGHUP');
  b.child.stdin!.write('auth:a:localhost:secret\nauth:a:localhost:wrong\n'.repeat(10));
  assert.ok(await waitFor(() => b.stderr().includes('configuration reloaded')), b.stderr());
  b.child.stdin!.write('isuser:a:localhost\n');
  const out = (await b.waitForBytes(2 + 80 + 2)).toString();
  assert.equal(out, `1\n${'1\n0\n'.repeat(20)}1\n`);
  // The old processes finish what they had, then go: only the new ones are left.
  for (const pid of before) assert.ok(await waitFor(() => isGone(pid)), `old script ${pid} left behind`);
  const after = childrenOf(b.child.pid!);
  assert.equal(after.length, 2);
  assert.ok(after.every((p) => !before.includes(p)), 'the processes were renewed');
  b.child.stdin!.end();
  assert.deepEqual(await b.exited, { code: 0, signal: null });
});
