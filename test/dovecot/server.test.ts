/** The Dovecot auth service against a real auth script, driven over real sockets. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { parseConfigText } from '../../src/config/load.js';
import { DovecotAuthServer } from '../../src/dovecot/server.js';
import { b64, DovecotClient } from '../helpers/dovecot.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture } from '../helpers/paths.js';

async function start(script: string, extra = '', env: Record<string, string> = {}) {
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  const config = parseConfigText(
    `external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture(script))}]\n${extra}`,
  );
  const log = new MemoryLogger();
  const accounts = new Accounts(config, log);
  const server = new DovecotAuthServer({ accounts, defaultHost: 'localhost', logger: log });
  const dir = mkdtempSync(join(tmpdir(), 'gh-dovecot-'));
  const socket = join(dir, 'auth-client');
  const { port } = await server.listen({ port: 0, socket });
  return {
    port: port!,
    socket,
    log,
    async stop() {
      await server.close();
      await accounts.close();
      for (const k of Object.keys(env)) delete process.env[k];
    },
  };
}

test('the handshake announces version 1, PLAIN and LOGIN, SPID, CUID, COOKIE, DONE', async (t) => {
  const s = await start('fast.mjs');
  t.after(() => s.stop());
  const c = await DovecotClient.open({ port: s.port });
  t.after(() => c.close());
  assert.equal(c.handshake[0], 'VERSION\t1\t2');
  assert.ok(c.handshake.includes('MECH\tPLAIN\tplaintext'));
  assert.ok(c.handshake.includes('MECH\tLOGIN\tplaintext'));
  assert.match(c.handshake.find((l) => l.startsWith('SPID'))!, /^SPID\t\d+$/);
  assert.match(c.handshake.find((l) => l.startsWith('CUID'))!, /^CUID\t\d+$/);
  assert.match(c.handshake.find((l) => l.startsWith('COOKIE'))!, /^COOKIE\t[0-9a-f]{32}$/);
  assert.equal(c.handshake.at(-1), 'DONE');
});

test('PLAIN over TCP and over the Unix socket: right, wrong, with and without @host', async (t) => {
  const s = await start('fast.mjs', '', { FIXTURE_PASSWORD: 'p:ä:ss€ word' });
  t.after(() => s.stop());
  for (const target of [{ port: s.port }, { path: s.socket }]) {
    const c = await DovecotClient.open(target);
    t.after(() => c.close());
    assert.equal(await c.plain(1, 'alice@localhost', 'secret'), 'OK\t1\tuser=alice@localhost');
    assert.equal(await c.plain(2, 'alice', 'wrong'), 'FAIL\t2\tuser=alice\treason=Authentication failed');
    assert.equal(await c.plain(3, 'bob', 'pw-bob'), 'OK\t3\tuser=bob');
    assert.equal(await c.plain(4, 'ünïcöde@localhost', 'pw-ünïcöde'), 'OK\t4\tuser=ünïcöde@localhost');
    assert.equal(await c.plain(5, 'carol', 'p:ä:ss€ word'), 'OK\t5\tuser=carol');
    // A colon cannot be part of a username in the extauth protocol: refused, not forwarded.
    assert.equal(await c.plain(6, 'a:b@localhost', 'p:ä:ss€ word'), 'FAIL\t6\tuser=a:b@localhost\treason=Authentication failed');
  }
});

test('the OK echoes the username exactly as sent, as Prosody checks', async (t) => {
  const s = await start('fast.mjs');
  t.after(() => s.stop());
  const c = await DovecotClient.open({ port: s.port });
  t.after(() => c.close());
  c.send(`AUTH\t3\tPLAIN\tservice=xmpp\tresp=${b64('\0alice@localhost\0secret')}`);
  assert.equal(await c.line(), 'OK\t3\tuser=alice@localhost');
  c.send(`AUTH\t4\tPLAIN\tservice=smtp\tresp=${b64('\0alice@localhost\0secret')}`);
  assert.equal(await c.line(), 'OK\t4\tuser=alice@localhost');
});

test('PLAIN without an initial response and LOGIN use CONT round trips', async (t) => {
  const s = await start('fast.mjs');
  t.after(() => s.stop());
  const c = await DovecotClient.open({ port: s.port });
  t.after(() => c.close());
  c.send('AUTH\t7\tPLAIN\tservice=smtp');
  assert.equal(await c.line(), 'CONT\t7\t');
  c.send(`CONT\t7\t${b64('\0alice\0secret')}`);
  assert.equal(await c.line(), 'OK\t7\tuser=alice');
  c.send('AUTH\t8\tLOGIN\tservice=smtp');
  assert.equal(await c.line(), `CONT\t8\t${b64('Username:')}`);
  c.send(`CONT\t8\t${b64('alice')}`);
  assert.equal(await c.line(), `CONT\t8\t${b64('Password:')}`);
  c.send(`CONT\t8\t${b64('wrong')}`);
  assert.equal(await c.line(), 'FAIL\t8\tuser=alice\treason=Authentication failed');
});

test('interleaved requests on one connection are answered by id, in completion order', async (t) => {
  // The script answers a `gate-NAME` password once the file NAME exists: the test, not the
  // machine's speed, decides which check completes first.
  const gates = mkdtempSync(join(tmpdir(), 'gh-dovecot-gates-'));
  t.after(() => rmSync(gates, { recursive: true, force: true }));
  const s = await start('slow.mjs', 'external_auth_processes = 3', { FIXTURE_DELAY_MS: '0', FIXTURE_GATE_DIR: gates });
  t.after(() => s.stop());
  const c = await DovecotClient.open({ port: s.port });
  t.after(() => c.close());
  const resp = (u: string, p: string) => b64(`\0${u}\0${p}`);
  c.send(`AUTH\t10\tPLAIN\tservice=smtp\tresp=${resp('slowuser', 'gate-first')}`);
  c.send(`AUTH\t11\tPLAIN\tservice=smtp\tresp=${resp('quick', 'wrong')}`);
  c.send(`AUTH\t12\tPLAIN\tservice=smtp\tresp=${resp('medium', 'gate-second')}`);
  // Only request 11 can complete while both gates are shut.
  assert.equal(await c.line(), 'FAIL\t11\tuser=quick\treason=Authentication failed');
  writeFileSync(join(gates, 'second'), '');
  assert.equal(await c.line(), 'OK\t12\tuser=medium');
  writeFileSync(join(gates, 'first'), '');
  assert.equal(await c.line(), 'OK\t10\tuser=slowuser');
});

test('engine errors are temporary failures, never OK', async (t) => {
  const s = await start('lying.mjs');
  t.after(() => s.stop());
  const c = await DovecotClient.open({ port: s.port });
  t.after(() => c.close());
  assert.equal(await c.plain(1, 'alice', 'secret'), 'FAIL\t1\tuser=alice\tcode=temp_fail\ttemp\treason=Temporary authentication failure');
});

test('a served host without an auth script is a plain FAIL, not temp: retrying cannot help', async (t) => {
  const config = parseConfigText(`[hosts."a.example"]\nexternal_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]`);
  const log = new MemoryLogger();
  const accounts = new Accounts(config, log);
  const server = new DovecotAuthServer({ accounts, defaultHost: 'localhost', hosts: ['localhost', 'a.example'], logger: log });
  const { port } = await server.listen({ port: 0 });
  t.after(async () => {
    await server.close();
    await accounts.close();
  });
  const c = await DovecotClient.open({ port: port! });
  t.after(() => c.close());
  // Positive control: the host with a script answers.
  assert.equal(await c.plain(1, 'alice@a.example', 'secret'), 'OK\t1\tuser=alice@a.example');
  assert.equal(await c.plain(2, 'alice', 'secret'), 'FAIL\t2\tuser=alice\treason=Authentication failed');
  assert.ok(log.entries.some((e) => e.obj['code'] === 'ERR_AUTH_NOT_CONFIGURED'), 'the cause is logged');
});

test('a newline or NUL smuggled into the password never reaches the script', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-rec-'));
  const rec = join(dir, 'q.hex');
  const s = await start('fast.mjs', '', { RECORD_FILE: rec });
  t.after(() => s.stop());
  const c = await DovecotClient.open({ port: s.port });
  t.after(() => c.close());
  assert.equal(await c.plain(1, 'alice', 'x\nsetpass:admin:localhost:owned'), 'FAIL\t1\tuser=alice\treason=Authentication failed');
  assert.equal(await c.plain(2, 'ali\nce', 'secret'), 'FAIL\t2\tuser=ali\x01nce\treason=Authentication failed');
  assert.equal(await c.plain(3, 'alice:admin', 'secret'), 'FAIL\t3\tuser=alice:admin\treason=Authentication failed');
  assert.ok(!existsSync(rec) || readFileSync(rec, 'utf8') === '', 'the script received a query');
  assert.ok(!s.log.text().includes('owned'), 'the password was logged');
  // Positive control: a clean login on the same connection is sent, and recorded.
  assert.equal(await c.plain(4, 'alice', 'secret'), 'OK\t4\tuser=alice');
  assert.deepEqual(readFileSync(rec, 'utf8').split('\n').filter(Boolean).map((h) => Buffer.from(h, 'hex').toString('utf8')), ['auth:alice:localhost:secret']);
});

test('malformed requests get FAIL or a closed connection, never a crash', async (t) => {
  const s = await start('fast.mjs');
  t.after(() => s.stop());
  const c = await DovecotClient.open({ port: s.port });
  assert.equal(await c.plain(1, 'admin\0alice', 'secret').catch(() => 'err'), 'FAIL\t1\treason=Invalid PLAIN message');
  c.send('AUTH\t2\tCRAM-MD5\tservice=smtp');
  assert.equal(await c.line(), 'FAIL\t2\treason=Unsupported authentication mechanism');
  c.send('AUTH\t3\tPLAIN\tservice=smtp\tresp=!!notbase64!!');
  assert.equal(await c.line(), 'FAIL\t3\treason=Invalid base64 data in initial response');
  c.send(`AUTH\t4\tPLAIN\tservice=smtp\tresp=${b64('authz\0alice\0secret')}`);
  assert.equal(await c.line(), 'FAIL\t4\treason=Authorization identity differs from the login');
  c.send('FROB\tx');
  c.send(`AUTH\t5\tPLAIN\tresp=${b64('\0alice\0secret')}`);
  assert.equal(await c.line(), 'OK\t5\tuser=alice');
  // A CONT for no request cannot be answered in step: the connection is closed.
  c.send('CONT\t99\tAAAA');
  assert.equal(await c.line(), null);
  // An overlong line closes too.
  const d = await DovecotClient.open({ port: s.port });
  d.send('AUTH\t1\tPLAIN\tresp=' + 'A'.repeat(20_000));
  assert.equal(await d.line(), null);
  // A wrong major version closes.
  const e = await DovecotClient.open({ port: s.port }, 'VERSION\t2\t0\n');
  assert.equal(await e.line(), null);
  // And the service still works for everyone else.
  const f = await DovecotClient.open({ port: s.port });
  t.after(() => f.close());
  assert.equal(await f.plain(1, 'alice', 'secret'), 'OK\t1\tuser=alice');
});

test('many concurrent connections are all answered correctly', async (t) => {
  const s = await start('fast.mjs', 'external_auth_processes = 2');
  t.after(() => s.stop());
  const clients = await Promise.all(Array.from({ length: 40 }, () => DovecotClient.open({ port: s.port })));
  t.after(() => clients.forEach((c) => c.close()));
  const results = await Promise.all(
    clients.map(async (c, i) => {
      const out: string[] = [];
      for (let j = 0; j < 5; j++) {
        const right = (i + j) % 2 === 0;
        const line = await c.plain(j + 1, `user${i}`, right ? `pw-user${i}` : 'nope');
        out.push(line === (right ? `OK\t${j + 1}\tuser=user${i}` : `FAIL\t${j + 1}\tuser=user${i}\treason=Authentication failed`) ? 'ok' : `bad: ${line}`);
      }
      return out;
    }),
  );
  assert.deepEqual(results.flat().filter((r) => r !== 'ok'), []);
});

test('failures are throttled per user and per client address (rip)', async (t) => {
  const s = await start('fast.mjs', 'auth_failure_limit_user = 3\nauth_failure_limit_address = 100');
  t.after(() => s.stop());
  const c = await DovecotClient.open({ port: s.port });
  t.after(() => c.close());
  for (let i = 1; i <= 3; i++) assert.match((await c.plain(i, 'alice', 'wrong', '\trip=127.0.0.9'))!, /^FAIL\t\d\tuser=alice\treason=Authentication failed$/);
  assert.equal(
    await c.plain(4, 'alice', 'secret', '\trip=127.0.0.9'),
    'FAIL\t4\tuser=alice\tcode=temp_fail\ttemp\treason=Too many failed attempts; try again later',
  );
  assert.equal(await c.plain(5, 'bob', 'pw-bob', '\trip=127.0.0.9'), 'OK\t5\tuser=bob');
  const refusal = s.log.entries.find((e) => e.msg === 'dovecot auth refused: too many failures');
  assert.equal(refusal?.obj['address'], '127.0.0.9');
  assert.ok(!s.log.text().includes('secret'));
});
