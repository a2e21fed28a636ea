/**
 * The account service's hosts, pools and reload (src/accounts/accounts.ts): each host its own
 * script, commands and counters; a host without a script or a command its script lacks is an
 * error, never asked and never a yes; a reload reports what it did, carries listeners and the
 * counts of unchanged limits over, and a query let through before a reload removed its script
 * is refused. With PostgreSQL, instances sharing the database count failures together.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { parseConfigText } from '../../src/config/load.js';
import { openPostgresStore } from '../../src/storage/postgres.js';
import { auth, closeAll, HOST, script } from '../helpers/accounts.js';
import { childPids } from '../helpers/cleanup.js';
import { outcome, waitFor } from '../helpers/engine.js';
import { createTestSchema } from '../helpers/postgres.js';

test('hosts: their own scripts and commands; a host without a script or a command the script lacks is an error, never asked', async (t) => {
  const a = script(t, { 'a.example': { alice: 'a1' } });
  const b = script(t, { 'b.example': { alice: 'b1' } });
  const config = parseConfigText(`auth_failure_limit_address = 2
auth_failure_window = 600
[hosts."a.example"]
${a.command}
external_auth_commands = ["auth", "isuser"]
[hosts."b.example"]
${b.command.replace('external_auth_processes = 1', 'external_auth_processes = 2')}
external_auth_queue_limit = 7
`);
  const accounts = new Accounts(config);
  t.after(() => closeAll(accounts));
  assert.equal(accounts.engines().length, 2);
  assert.equal(accounts.engineFor('nowhere.example'), null);
  const ea = accounts.engineFor('a.example')!;
  const eb = accounts.engineFor('b.example')!;
  assert.notEqual(ea, eb);
  assert.deepEqual(new Set(accounts.engines()), new Set([ea, eb]));
  assert.notEqual(ea.capacity, eb.capacity);
  assert.equal(accounts.capacity, Math.min(ea.capacity, eb.capacity));
  assert.equal(accounts.hostConfig('b.example').extauth.queueLimit, 7);
  assert.deepEqual(accounts.hostConfig('a.example').extauth.commands, ['auth', 'isuser']);
  assert.equal(accounts.hostConfig('nowhere.example').extauth.command, null);
  assert.equal(accounts.config, config);

  const answered: string[] = [];
  accounts.onQuery((command, result) => answered.push(`${command} ${result}`));
  assert.equal(await accounts.query(auth('alice', 'a1', 'a.example')), true);
  assert.equal(await accounts.query(auth('alice', 'b1', 'b.example')), true);
  assert.equal(await accounts.query(auth('alice', 'b1', 'a.example')), false, 'each host its own accounts');
  assert.deepEqual(answered, ['auth yes', 'auth yes', 'auth no']);
  // A command a.example's script does not implement: refused, never sent.
  const err = await accounts.query({ command: 'setpass', user: 'alice', host: 'a.example', password: 'new' }).catch((e: unknown) => e);
  assert.equal((err as { code?: string }).code, 'ERR_EXTAUTH_UNSUPPORTED');
  assert.equal((err as Error).message, 'the auth script does not implement setpass');
  assert.equal(await accounts.query({ command: 'setpass', user: 'alice', host: 'b.example', password: 'new' }), true);
  assert.deepEqual(a.users(), { 'a.example': { alice: 'a1' } });
  assert.equal(a.asked().length, 2);
  // No script for the host: an error, and an unknown user is never a yes.
  assert.equal(await outcome(accounts.query(auth('alice', 'a1', 'nowhere.example'))), 'ERR_AUTH_NOT_CONFIGURED');
  assert.equal(await outcome(accounts.query({ command: 'isuser', user: 'alice', host: 'nowhere.example' })), 'ERR_AUTH_NOT_CONFIGURED');

  // Counts are per host: the address failing on a.example is not throttled on b.example.
  const from = { address: '127.0.3.1' };
  assert.equal(await accounts.query(auth('x', 'w', 'a.example'), from), false);
  assert.equal(await accounts.query(auth('y', 'w', 'a.example'), from), false);
  assert.equal(await outcome(accounts.query(auth('alice', 'a1', 'a.example'), from)), 'ERR_AUTH_THROTTLED');
  assert.equal(await accounts.query(auth('alice', 'new', 'b.example'), from), true);
});

test('without any script every question is an error, and the capacity is unbounded', async (t) => {
  const accounts = new Accounts(parseConfigText(''));
  t.after(() => closeAll(accounts));
  assert.deepEqual(accounts.engines(), []);
  assert.equal(accounts.capacity, Infinity);
  assert.equal(await outcome(accounts.query(auth('alice', 'secret'))), 'ERR_AUTH_NOT_CONFIGURED');
});

test('reload: the report, listeners carried to the new pools, counts kept only where the limits stayed', async (t) => {
  const a = script(t, { 'a.example': { alice: 'a1' }, 'b.example': { alice: 'b1' }, 'c.example': { alice: 'c1' } });
  const text = (limitA: number, backoffB: number) => `auth_failure_window = 600
[hosts."a.example"]
${a.command}
auth_failure_limit_user = ${limitA}
[hosts."b.example"]
${a.command.replace('external_auth_processes = 1', 'external_auth_processes = 2')}
auth_failure_limit_user = 2
auth_failure_backoff_max = ${backoffB}
[hosts."c.example"]
${a.command.replace('external_auth_processes = 1', 'external_auth_processes = 2')}
auth_failure_limit_user = 2
auth_failure_backoff_max = ${backoffB}
`;
  const accounts = new Accounts(parseConfigText(text(2, 600)));
  t.after(() => closeAll(accounts));
  const answered: string[] = [];
  accounts.onQuery((command, result) => answered.push(`${command} ${result}`));
  const from = { address: '127.0.4.1' };
  for (const host of ['a.example', 'b.example']) {
    assert.equal(await accounts.query(auth('alice', 'w1', host), from), false);
    assert.equal(await accounts.query(auth('alice', 'w2', host), from), false);
    assert.equal(await outcome(accounts.query(auth('alice', 'x', host), from)), 'ERR_AUTH_THROTTLED');
    assert.equal(await accounts.query(auth('alice', 'w1', host)), false);
    assert.equal(await accounts.query(auth('alice', 'w2', host)), false);
    assert.equal(await outcome(accounts.query(auth('alice', 'x', host))), 'ERR_AUTH_THROTTLED');
  }
  const old = accounts.engines();
  // a.example's user limit changes (its counts start over); b.example's backoff cap changes
  // (its nameless counts start over, those with an address are kept). c.example has the same
  // limits as b.example and no failures: each host keeps its own counts.
  const report = await accounts.reload(parseConfigText(text(3, 300)), { settleMs: 100, readyTimeoutMs: 30_000 });
  assert.deepEqual(report, { engines: 2, processes: 3, retired: 2 });
  assert.ok(accounts.engines().every((e) => !old.includes(e)));
  answered.length = 0;
  assert.equal(await accounts.query(auth('alice', 'a1', 'a.example'), from), true, 'a new limit: counted afresh');
  assert.equal(await outcome(accounts.query(auth('alice', 'b1', 'b.example'), from)), 'ERR_AUTH_THROTTLED', 'the same limits: still locked');
  assert.equal(await accounts.query(auth('alice', 'c1', 'c.example'), from), true, 'never locked');
  assert.equal(await accounts.query(auth('alice', 'b1', 'b.example')), true, 'a new backoff cap: counted afresh');
  assert.deepEqual(answered, ['auth yes', 'auth yes', 'auth yes'], 'a listener follows the new pools');
  // A listener added now hears the present pools.
  const later: string[] = [];
  accounts.onQuery((command, result) => later.push(`${command} ${result}`));
  assert.equal(await accounts.query({ command: 'isuser', user: 'alice', host: 'a.example' }), true);
  assert.deepEqual(later, ['isuser yes']);
});

test('reload: each counter keeps its own limit, so a reload never merges a user\'s counts with an address\'s', async (t) => {
  const s = script(t, { 'a.example': { alice: 'a1', dave: 'd1' }, 'b.example': { alice: 'b1' } });
  // The address limit is far above the user's: were the counters of one host, or of two
  // hosts, one after a reload, the user's limit would be lost in the address's.
  const text = `${s.command}
auth_failure_limit_user = 2
auth_failure_limit_address = 50
auth_failure_window = 600
[hosts."a.example"]
auth_failure_limit_user = 2
[hosts."b.example"]
auth_failure_limit_user = 2
`;
  const accounts = new Accounts(parseConfigText(text));
  t.after(() => closeAll(accounts));
  await accounts.reload(parseConfigText(text), { settleMs: 100, readyTimeoutMs: 30_000 });
  const A = 'a.example';
  const from = { address: '127.0.4.9' };
  // A user from one address: locked at the user's limit, right password or not.
  assert.equal(await accounts.query(auth('alice', 'w1', A), from), false);
  assert.equal(await accounts.query(auth('alice', 'w2', A), from), false);
  assert.equal(await outcome(accounts.query(auth('alice', 'a1', A), from)), 'ERR_AUTH_THROTTLED');
  // Without an address (the auth API): the nameless counter, with the same limit.
  assert.equal(await accounts.query(auth('dave', 'w1', A)), false);
  assert.equal(await accounts.query(auth('dave', 'w2', A)), false);
  assert.equal(await outcome(accounts.query(auth('dave', 'd1', A))), 'ERR_AUTH_THROTTLED');
  // The other host's user is its own: answered from the same address.
  assert.equal(await accounts.query(auth('alice', 'b1', 'b.example'), from), true);
  assert.deepEqual(
    s.asked().map((q) => q.split(':').slice(0, 3).join(':')),
    ['auth:alice:a.example', 'auth:alice:a.example', 'auth:dave:a.example', 'auth:dave:a.example', 'auth:alice:b.example'],
    'no throttled attempt reached the script',
  );
});

test('PostgreSQL: instances sharing the database count failures together, per host', async (t) => {
  const schema = await createTestSchema();
  t.after(() => schema.drop());
  const s = script(t, { 'a.example': { alice: 'a1' }, 'b.example': { alice: 'b1' } });
  // Two host tables with the same limits: only the host tells their counters apart.
  const config = parseConfigText(`${s.command}
auth_failure_limit_user = 2
auth_failure_limit_address = 3
auth_failure_window = 600
[hosts."a.example"]
auth_failure_limit_user = 2
[hosts."b.example"]
auth_failure_limit_user = 2
`);
  const stores = [await openPostgresStore(schema.url), await openPostgresStore(schema.url)];
  const instances = stores.map((store) => new Accounts(config, undefined, undefined, store));
  t.after(async () => {
    try {
      await closeAll(...instances);
    } finally {
      for (const store of stores) await store.close();
    }
  });
  const [one, two] = instances as [Accounts, Accounts];
  const from = { address: '127.0.5.1' };
  const A = 'a.example';
  const B = 'b.example';
  // A guesser alternating between the instances is locked as on one.
  assert.equal(await one.query(auth('alice', 'w1', A), from), false);
  assert.equal(await two.query(auth('alice', 'w2', A), from), false);
  assert.equal(await outcome(one.query(auth('alice', 'a1', A), from)), 'ERR_AUTH_THROTTLED');
  assert.equal(await outcome(two.query(auth('alice', 'a1', A), from)), 'ERR_AUTH_THROTTLED');
  // Another host's counts are its own, for the user and for the address.
  assert.equal(await two.query(auth('alice', 'w3', B), from), false);
  assert.equal(await one.query(auth('alice', 'b1', B), from), true);
  assert.equal(await one.query(auth('bob', 'w4', A), from), false, 'the address: its third failure on a.example');
  assert.equal(await outcome(two.query(auth('carol', 'c1', A), from)), 'ERR_AUTH_THROTTLED', 'the address is locked on a.example');
  assert.equal(await one.query(auth('carol', 'c1', B), from), false, 'not on b.example: asked');
  // Without an address (the auth API): the same, shared, with its short delay.
  assert.equal(await one.query(auth('dave', 'w5', B)), false);
  assert.equal(await two.query(auth('dave', 'w6', B)), false);
  assert.equal(await outcome(one.query(auth('dave', 'd1', B))), 'ERR_AUTH_THROTTLED');
  assert.deepEqual(
    s.asked().map((q) => q.split(':').slice(0, 3).join(':')),
    ['auth:alice:a.example', 'auth:alice:a.example', 'auth:alice:b.example', 'auth:alice:b.example', 'auth:bob:a.example', 'auth:carol:b.example', 'auth:dave:b.example', 'auth:dave:b.example'],
    'no throttled attempt reached the script',
  );
});

test('a query let through while a reload removed its host’s script is refused as not configured', async (t) => {
  const s = script(t, { [HOST]: { alice: 'a1' } });
  const accounts = new Accounts(parseConfigText(s.command));
  t.after(() => closeAll(accounts));
  assert.equal(await accounts.query(auth('alice', 'a1'), { address: '127.0.6.1' }), true);
  // The query's throttle checks await; a reload to a configuration without a script has no
  // pool to start and swaps in meanwhile. The engine is read again after them.
  const asked = outcome(accounts.query(auth('alice', 'a1'), { address: '127.0.6.1' }));
  const reload = accounts.reload(parseConfigText(''));
  assert.equal(await asked, 'ERR_AUTH_NOT_CONFIGURED');
  assert.deepEqual(await reload, { engines: 0, processes: 0, retired: 1 });
  assert.equal(s.asked().length, 1);
});

test('reload: one at a time, none once closed; a script that cannot start changes nothing; closing meanwhile ends the pools being started', async (t) => {
  // A reload's readiness wait uses unref'd timers: keep the event loop alive while it is awaited.
  const keepAlive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keepAlive));
  const s = script(t, { [HOST]: { alice: 'a1' } });
  const config = parseConfigText(s.command);
  const accounts = new Accounts(config);
  t.after(() => closeAll(accounts));
  const first = accounts.reload(parseConfigText(s.command), { settleMs: 100, readyTimeoutMs: 30_000 });
  assert.equal(await outcome(accounts.reload(parseConfigText(s.command)).then(() => true)), 'ERR_RELOAD_BUSY');
  assert.deepEqual(await first, { engines: 1, processes: 1, retired: 1 });
  const serving = accounts.config;
  // Done, so another may run: one whose script cannot even be started is refused, and the
  // configuration in force stays.
  const missing = parseConfigText('external_auth_command = ["/nonexistent/auth-script"]');
  assert.equal(await outcome(accounts.reload(missing, { readyTimeoutMs: 1000, settleMs: 100 }).then(() => true)), 'ERR_RELOAD_NOT_READY');
  assert.equal(accounts.config, serving);
  assert.equal(await accounts.query(auth('alice', 'a1')), true);
  // A reload whose pool would take ten minutes to settle: closing meanwhile ends it at once.
  const before = childPids(process.pid).length;
  const slow = outcome(accounts.reload(parseConfigText(s.command), { settleMs: 600_000, readyTimeoutMs: 600_000 }).then(() => true));
  assert.ok(await waitFor(() => childPids(process.pid).length > before), 'the new pool started its process');
  await accounts.close();
  assert.equal(await slow, 'ERR_RELOAD_CLOSED');
  // Once closed, a reload is refused before it starts anything (pools start as it is called).
  const known = new Set(childPids(process.pid));
  const late = outcome(accounts.reload(config, { settleMs: 100, readyTimeoutMs: 30_000 }).then(() => true));
  assert.deepEqual(childPids(process.pid).filter((pid) => !known.has(pid)), [], 'no script started after close');
  assert.equal(await late, 'ERR_RELOAD_CLOSED');
});

test("a host's external_auth_max_query_bytes reaches its pool: a longer query is refused and never sent", async (t) => {
  const long = 'p'.repeat(100);
  const s = script(t, { [HOST]: { alice: 'short', bob: long } });
  const accounts = new Accounts(parseConfigText(`${s.command}\nexternal_auth_max_query_bytes = 64`));
  t.after(() => closeAll(accounts));
  // Control: a query under the limit is asked and answered.
  assert.equal(await accounts.query(auth('alice', 'short')), true);
  // `auth:bob:localhost:` and 100 bytes of password: over 64, so refused before the script
  // (with the default limit of 4096 it would be sent, and the right password would be a yes).
  const err = await accounts.query(auth('bob', long)).catch((e: unknown) => e);
  assert.equal((err as { code?: string }).code, 'ERR_EXTAUTH_INVALID_INPUT');
  assert.equal((err as Error).message, 'query is longer than 64 bytes');
  assert.equal(s.asked().length, 1, 'only the short query reached the script');
});
