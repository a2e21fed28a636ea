/**
 * The Dovecot face's answer to each outcome of the accounts engine (src/dovecot/server.ts):
 * the FAIL a client gets (with `temp` only where retrying may help, so Postfix answers 454
 * rather than 535) and the line the operator gets, for every failure class; the hosts a listener
 * serves; the query the script is asked. Real auth scripts, real sockets, real databases.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { Accounts } from '../../src/accounts/accounts.js';
import { parseConfigText } from '../../src/config/load.js';
import { DovecotAuthServer } from '../../src/dovecot/server.js';
import { tokenVerifier } from '../../src/oauth/token-password.js';
import { openSqliteStore } from '../../src/storage/sqlite-open.js';
import { DovecotClient } from '../helpers/dovecot.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture } from '../helpers/paths.js';

const script = (name: string) => `external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture(name))}]\n`;

interface Start {
  /** Configuration text (default: the answering script for every host). */
  config?: string;
  defaultHost?: string;
  hosts?: readonly string[];
  maxConnections?: number;
  /** Accounts built from the configuration and the log (default: plain Accounts). */
  accounts?: (config: ReturnType<typeof parseConfigText>, log: MemoryLogger) => Accounts;
  /** Without a logger: the server's default, which writes nowhere. */
  silent?: boolean;
}

async function start(t: TestContext, o: Start = {}) {
  const rec = join(mkdtempSync(join(tmpdir(), 'gh-dovecot-auth-')), 'q.hex');
  process.env['RECORD_FILE'] = rec;
  t.after(() => delete process.env['RECORD_FILE']);
  const config = parseConfigText(o.config ?? script('fast.mjs'));
  const log = new MemoryLogger();
  const accounts = o.accounts ? o.accounts(config, log) : new Accounts(config, log);
  const server = new DovecotAuthServer({
    accounts,
    defaultHost: o.defaultHost ?? 'dove.local',
    ...(o.silent ? {} : { logger: log }),
    ...(o.hosts ? { hosts: o.hosts } : {}),
    ...(o.maxConnections ? { maxConnections: o.maxConnections } : {}),
  });
  const { port } = await server.listen({ port: 0 });
  t.after(async () => {
    await server.close();
    await accounts.close();
  });
  const open = async () => {
    const c = await DovecotClient.open({ port: port! });
    t.after(() => c.close());
    return c;
  };
  /** The queries the script received, decoded. */
  const asked = () => (existsSync(rec) ? readFileSync(rec, 'utf8').split('\n').filter(Boolean).map((h) => Buffer.from(h, 'hex').toString('utf8')) : []);
  /** This face's log lines (not those of the accounts engine). */
  const lines = () => log.entries.filter((e) => e.msg?.startsWith('dovecot ')).map((e) => ({ level: e.level, msg: e.msg, fields: e.obj }));
  return { open, asked, log, lines, port: port! };
}

test('a wrong password: a plain FAIL, logged at info with the identity, address and service', async (t) => {
  const s = await start(t);
  const c = await s.open();
  assert.equal(await c.plain(1, 'Alice', 'wrong', '\trip=127.0.0.7'), 'FAIL\t1\tuser=Alice\treason=Authentication failed');
  assert.deepEqual(s.lines(), [
    { level: 'info', msg: 'dovecot auth refused: wrong credentials', fields: { user: 'alice', host: 'dove.local', address: '127.0.0.7', service: 'smtp' } },
  ]);
  // Positive control; nothing logged for a success.
  assert.equal(await c.plain(2, 'Alice', 'secret', '\trip=127.0.0.7'), 'OK\t2\tuser=Alice');
  assert.equal(s.lines().length, 1);
  assert.deepEqual(s.asked(), ['auth:Alice:dove.local:wrong', 'auth:Alice:dove.local:secret']);
});

test('input the script cannot be sent: a plain FAIL, logged at info with its cause', async (t) => {
  const s = await start(t);
  const c = await s.open();
  assert.equal(await c.plain(1, 'a:b', 'secret'), 'FAIL\t1\tuser=a:b\treason=Authentication failed');
  const [line] = s.lines();
  assert.equal(line?.level, 'info');
  assert.equal(line?.msg, 'dovecot auth refused: invalid input');
  assert.equal(line?.fields['user'], 'a:b');
  assert.equal(line?.fields['code'], 'ERR_EXTAUTH_INVALID_INPUT');
  assert.equal(typeof line?.fields['detail'], 'string');
  assert.deepEqual(s.asked(), []);
});

test('a served host without a script: a plain FAIL, logged at info as not configured', async (t) => {
  const s = await start(t, { config: `[hosts."a.example"]\n${script('fast.mjs')}`, hosts: ['dove.local', 'a.example'] });
  const c = await s.open();
  assert.equal(await c.plain(1, 'alice', 'secret'), 'FAIL\t1\tuser=alice\treason=Authentication failed');
  assert.equal(await c.plain(2, 'alice@a.example', 'secret'), 'OK\t2\tuser=alice@a.example');
  assert.deepEqual(
    s.lines().map((l) => [l.level, l.msg, l.fields['code'], l.fields['host']]),
    [['info', 'dovecot auth refused: no auth script for this host or command', 'ERR_AUTH_NOT_CONFIGURED', 'dove.local']],
  );
});

test('throttled: a temporary FAIL that says so, logged at warn; the script is not asked', async (t) => {
  const s = await start(t, { config: `${script('fast.mjs')}auth_failure_limit_user = 2\nauth_failure_limit_address = 0\nauth_failure_window = 60\n` });
  const c = await s.open();
  for (const id of [1, 2]) assert.equal(await c.plain(id, 'alice', 'wrong'), `FAIL\t${id}\tuser=alice\treason=Authentication failed`);
  assert.equal(await c.plain(3, 'alice', 'secret'), 'FAIL\t3\tuser=alice\tcode=temp_fail\ttemp\treason=Too many failed attempts; try again later');
  const last = s.lines().at(-1)!;
  assert.deepEqual([last.level, last.msg, last.fields['code']], ['warn', 'dovecot auth refused: too many failures', 'ERR_AUTH_THROTTLED']);
  assert.deepEqual(s.asked(), ['auth:alice:dove.local:wrong', 'auth:alice:dove.local:wrong']);
});

test('an engine error: a temporary FAIL, logged at warn with its cause, never OK', async (t) => {
  // The script answers every query twice: the engine retires it as out of step.
  const s = await start(t, { config: script('lying.mjs') });
  const c = await s.open();
  assert.equal(await c.plain(1, 'alice', 'secret'), 'FAIL\t1\tuser=alice\tcode=temp_fail\ttemp\treason=Temporary authentication failure');
  const line = s.lines().at(-1)!;
  assert.deepEqual([line.level, line.msg, line.fields['user'], line.fields['host']], ['warn', 'dovecot auth failed temporarily', 'alice', 'dove.local']);
  assert.match(String(line.fields['code']), /^ERR_EXTAUTH_/);
});

test('a database that refuses a statement (internal): a temporary FAIL, logged at warn, never OK', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'gh-dovecot-db-')), 'gatehouse.sqlite');
  const store = await openSqliteStore(file);
  const other = new Database(file);
  t.after(async () => {
    other.close();
    await store.close();
  });
  const s = await start(t, { accounts: (config, log) => new Accounts(config, log, tokenVerifier(store, new Set(['dove.local']))) });
  const c = await s.open();
  // A password shaped like an access token is looked up first.
  const token = 'B'.repeat(43);
  assert.equal(await c.plain(1, 'alice', token), 'FAIL\t1\tuser=alice\treason=Authentication failed');
  // The tokens table is dropped behind the store's back: the lookup fails, for good.
  other.exec('DROP TABLE tokens');
  assert.equal(await c.plain(2, 'alice', token), 'FAIL\t2\tuser=alice\tcode=temp_fail\ttemp\treason=Temporary authentication failure');
  const line = s.lines().at(-1)!;
  assert.deepEqual([line.level, line.msg, line.fields['code']], ['warn', 'dovecot auth failed temporarily', 'ERR_STORAGE_INTERNAL']);
  assert.ok(!s.log.text().includes(token), 'the password was logged');
  // Temporary too when the database is closed.
  await store.close();
  assert.equal(await c.plain(3, 'alice', token), 'FAIL\t3\tuser=alice\tcode=temp_fail\ttemp\treason=Temporary authentication failure');
  assert.equal(s.lines().at(-1)!.fields['code'], 'ERR_STORAGE_CLOSED');
});

test('a host the listener does not serve: a plain FAIL, logged at warn, the script never asked', async (t) => {
  const s = await start(t, { defaultHost: 'Dove.Local', hosts: ['Dove.Local', 'Other.Example'] });
  const c = await s.open();
  assert.equal(await c.plain(1, 'alice@third.example', 'secret', '\trip=127.0.0.3'), 'FAIL\t1\tuser=alice@third.example\treason=Authentication failed');
  assert.deepEqual(s.lines(), [
    { level: 'warn', msg: 'dovecot auth refused: host not served by this listener', fields: { user: 'alice', host: 'third.example', address: '127.0.0.3', service: 'smtp' } },
  ]);
  assert.deepEqual(s.asked(), []);
  // Hosts are compared in lowercase, the listed ones and the default one alike.
  assert.equal(await c.plain(2, 'alice@OTHER.example', 'secret'), 'OK\t2\tuser=alice@OTHER.example');
  assert.equal(await c.plain(3, 'alice', 'secret'), 'OK\t3\tuser=alice');
  assert.deepEqual(s.asked(), ['auth:alice:other.example:secret', 'auth:alice:Dove.Local:secret']);
});

test('the script is asked auth with the user, the host after the last @, the password; the address reaches the throttle', async (t) => {
  const s = await start(t, { config: `${script('fast.mjs')}auth_failure_limit_user = 0\nauth_failure_limit_address = 1\nauth_failure_window = 60\n`, hosts: ['dove.local', 'c.example'] });
  const c = await s.open();
  assert.equal(await c.plain(1, 'a@b@C.example', 'pw-a@b'), 'OK\t1\tuser=a@b@C.example');
  assert.equal(await c.plain(2, '@dove.local', 'x:y'), 'FAIL\t2\tuser=@dove.local\treason=Authentication failed');
  assert.deepEqual(s.asked(), ['auth:a@b:c.example:pw-a@b', 'auth:@dove.local:dove.local:x:y']);
  // One failure from 127.0.0.8 blocks that address, and only it.
  assert.equal(await c.plain(3, 'bob', 'wrong', '\trip=127.0.0.8'), 'FAIL\t3\tuser=bob\treason=Authentication failed');
  assert.match((await c.plain(4, 'carol', 'secret', '\trip=127.0.0.8'))!, /^FAIL\t4\tuser=carol\tcode=temp_fail\ttemp\treason=Too many failed attempts/);
  assert.equal(await c.plain(5, 'carol', 'secret', '\trip=127.0.0.9'), 'OK\t5\tuser=carol');
});

test('connections get increasing CUIDs; past maxConnections a connection is closed and logged', async (t) => {
  const s = await start(t, { maxConnections: 2 });
  const a = await s.open();
  const b = await s.open();
  assert.deepEqual([a, b].map((c) => c.handshake.find((l) => l.startsWith('CUID\t'))), ['CUID\t1', 'CUID\t2']);
  await assert.rejects(s.open(), /closed during handshake/);
  assert.deepEqual(s.lines(), [{ level: 'warn', msg: 'dovecot connection refused: too many connections', fields: { max: 2 } }]);
});

test('without a logger the server logs nowhere and still answers', async (t) => {
  const s = await start(t, { silent: true });
  const c = await s.open();
  assert.equal(await c.plain(1, 'alice', 'wrong'), 'FAIL\t1\tuser=alice\treason=Authentication failed');
  assert.equal(await c.plain(2, 'alice', 'secret'), 'OK\t2\tuser=alice');
  assert.deepEqual(s.log.entries, []);
});
