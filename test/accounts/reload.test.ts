/**
 * Configuration reload (Accounts.reload, the pool's drain): new pools start beside the old,
 * queries keep being answered throughout, the old processes finish and are reaped, and a
 * reload whose script does not come up changes nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { ReloadError } from '../../src/accounts/errors.js';
import { parseConfigText } from '../../src/config/load.js';
import { childrenOf } from '../helpers/bridge.js';
import { fixtureEngine, isGone, outcome, waitFor } from '../helpers/engine.js';

/** A generic-protocol script that says yes to one password, after `delayMs`. */
function scriptSource(password: string, delayMs: number): string {
  return `import { createInterface } from 'node:readline';
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [command, , , ...rest] = line.split(':');
  const yes = command === 'auth' ? rest.join(':') === ${JSON.stringify(password)} : command === 'isuser';
  setTimeout(() => process.stdout.write(yes ? '1\\n' : '0\\n'), ${delayMs});
});
`;
}

function scriptFile(source: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gh-reload-')), 'auth.mjs');
  writeFileSync(file, source);
  return file;
}

function configFor(script: string, extra = ''): ReturnType<typeof parseConfigText> {
  return parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(script)}]
external_auth_processes = 2
external_auth_timeout = 5
${extra}`);
}

const query = (password: string) => ({ command: 'auth' as const, user: 'alice', host: 'localhost', password });

test('reload under load: every query is answered, the new script answers after, the old processes are reaped', async (t) => {
  const script = scriptFile(scriptSource('one', 5));
  const accounts = new Accounts(configFor(script));
  t.after(() => accounts.close());
  assert.equal(await accounts.query(query('one')), true);
  const oldPids = accounts.engines()[0]!.pids();
  assert.equal(oldPids.length, 2);

  // Eight callers, 60 queries each, with a password both versions accept only in turn: the
  // answer may be either, but every query must get one (no error, no rejection).
  let reloaded = false;
  const errors: string[] = [];
  let answered = 0;
  const load = Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 60; i++) {
        const r = await outcome(accounts.query(query(reloaded ? 'two' : 'one')));
        if (typeof r === 'string') errors.push(r);
        else answered++;
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 30));
  writeFileSync(script, scriptSource('two', 5));
  const report = await accounts.reload(configFor(script), { settleMs: 200 });
  reloaded = true;
  await load;
  assert.deepEqual(errors, []);
  assert.equal(answered, 480);
  assert.deepEqual(report, { engines: 1, processes: 2, retired: 1 });

  assert.equal(await accounts.query(query('two')), true);
  assert.equal(await accounts.query(query('one')), false);
  const newPids = accounts.engines()[0]!.pids();
  assert.equal(newPids.length, 2);
  assert.ok(newPids.every((p) => !oldPids.includes(p)));
  for (const pid of oldPids) assert.ok(await waitFor(() => isGone(pid)), `old process ${pid} left behind`);
});

test('reload: a new script that dies after starting is not swapped in; the old one keeps answering', async (t) => {
  const good = scriptFile(scriptSource('one', 0));
  const accounts = new Accounts(configFor(good));
  t.after(() => accounts.close());
  const pids = accounts.engines()[0]!.pids();
  // Survives its quiet period (so it looks started), then dies, like a script that fails to
  // open its database after loading.
  const dies = scriptFile(`setTimeout(() => process.exit(3), 300); process.stdin.resume();`);
  // The settle time is far longer than the script's life, so that its death falls inside it
  // however slowly the machine starts it.
  await assert.rejects(accounts.reload(configFor(dies), { readyTimeoutMs: 20_000, settleMs: 5000 }), (err: unknown) => {
    assert.ok(err instanceof ReloadError);
    assert.equal(err.code, 'ERR_RELOAD_NOT_READY');
    return true;
  });
  assert.equal(await accounts.query(query('one')), true);
  assert.deepEqual(accounts.engines()[0]!.pids().sort(), pids.sort());
  assert.equal(accounts.config.defaults.extauth.command![1], good);
});

test('reload with the default timings: a script that dies soon after starting is not swapped in', async (t) => {
  const good = scriptFile(scriptSource('one', 0));
  const accounts = new Accounts(configFor(good));
  t.after(() => accounts.close());
  // Dies once it has run a moment, like a script that cannot open its database: within the
  // default settling second, and again at every restart until the default 10 s are over.
  const dies = scriptFile('setTimeout(() => process.exit(3), 50); process.stdin.resume();');
  const err = await accounts.reload(configFor(dies)).catch((e: unknown) => e);
  assert.ok(err instanceof ReloadError);
  assert.equal(err.code, 'ERR_RELOAD_NOT_READY');
  assert.match(err.message, /^the new auth script processes did not start and settle in time: node auth\.mjs: [1-9]\d* start-up failures$/);
  assert.equal(await accounts.query(query('one')), true, 'the old script still answers');
  assert.equal(accounts.config.defaults.extauth.command![1], good);
});

test('reload: a script that cannot be started at all is refused too', async (t) => {
  const accounts = new Accounts(configFor(scriptFile(scriptSource('one', 0))));
  t.after(() => accounts.close());
  const missing = parseConfigText(`external_auth_command = ["/nonexistent/auth-script"]`);
  await assert.rejects(accounts.reload(missing, { readyTimeoutMs: 1000, settleMs: 100 }), { code: 'ERR_RELOAD_NOT_READY' });
  assert.equal(await accounts.query(query('one')), true);
});

test('reload: the refusal names every script that did not come up, one host\'s among others that did', async (t) => {
  const good = scriptFile(scriptSource('one', 0));
  const accounts = new Accounts(configFor(good));
  t.after(() => accounts.close());
  const next = parseConfigText(`external_auth_command = ["/nonexistent/default-script"]
[hosts."a.example"]
external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(good)}]
[hosts."b.example"]
external_auth_command = ["/nonexistent/b-script"]
`);
  const err = await accounts.reload(next, { readyTimeoutMs: 1000, settleMs: 100 }).catch((e: unknown) => e);
  assert.ok(err instanceof ReloadError);
  assert.equal(err.code, 'ERR_RELOAD_NOT_READY');
  const detail = err.message.replace(/^the new auth script processes did not start and settle in time: /, '');
  assert.deepEqual(
    detail.split('; ').map((d) => d.replace(/\d+ start-up failures$/, 'N start-up failures')).sort(),
    ['b-script: N start-up failures', 'default-script: N start-up failures'],
  );
  assert.equal(await accounts.query(query('one')), true, 'the old script still answers');
});

test('reload: failed-login counts survive when the limits do not change', async (t) => {
  const script = scriptFile(scriptSource('one', 0));
  const extra = 'auth_failure_limit_user = 2\nauth_failure_window = 60';
  const accounts = new Accounts(configFor(script, extra));
  t.after(() => accounts.close());
  // From a known address: the lock lasts the window (without one, the wait is a short delay
  // after the last failure, accounts.ts).
  const from = { address: '127.0.0.7' };
  assert.equal(await accounts.query(query('x'), from), false);
  assert.equal(await accounts.query(query('y'), from), false);
  await accounts.reload(configFor(script, extra), { settleMs: 100 });
  // A reload is not a way around the lock: even the right password waits.
  assert.equal(await outcome(accounts.query(query('one'), from)), 'ERR_AUTH_THROTTLED');
});

test('reload: a second reload while one runs is refused; after close, reload is refused', async (t) => {
  const script = scriptFile(scriptSource('one', 0));
  const accounts = new Accounts(configFor(script));
  t.after(() => accounts.close());
  const first = accounts.reload(configFor(script), { settleMs: 100 });
  await assert.rejects(accounts.reload(configFor(script)), { code: 'ERR_RELOAD_BUSY' });
  await first;
  await accounts.close();
  await assert.rejects(accounts.reload(configFor(script)), { code: 'ERR_RELOAD_CLOSED' });
});

test('pool drain: queued queries are still served, new ones are refused, then everything stops', async (t) => {
  const { engine } = fixtureEngine('slow.mjs', { size: 1, env: { FIXTURE_DELAY_MS: '50' } });
  t.after(() => engine.close({ force: true }));
  assert.ok(await engine.whenReady({ timeoutMs: 3000, settleMs: 50 }));
  const pids = engine.pids();
  const queued = Array.from({ length: 5 }, () => outcome(engine.auth('alice', 'localhost', 'secret')));
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(engine.stats().queued, 4);
  const closed = engine.close({ drain: true });
  assert.equal(await outcome(engine.auth('alice', 'localhost', 'secret')), 'ERR_EXTAUTH_CLOSED');
  assert.deepEqual(await Promise.all(queued), [true, true, true, true, true]);
  await closed;
  for (const pid of pids) assert.ok(isGone(pid), `process ${pid} left behind`);
});

test('stopping during a reload stops the pools it was starting too: nothing is left behind', async (t) => {
  const script = scriptFile(scriptSource('one', 0));
  const accounts = new Accounts(configFor(script));
  t.after(() => accounts.close());
  const before = new Set(childrenOf(process.pid));
  // Settling would take 10 minutes: a close() that waited for it would fail the test (its timeout).
  const reload = outcome(accounts.reload(configFor(script), { settleMs: 600_000, readyTimeoutMs: 600_000 }).then(() => true));
  // The new pool's two processes are up (and settling) when the service is told to stop.
  assert.ok(await waitFor(() => childrenOf(process.pid).filter((p) => !before.has(p)).length === 2));
  const started = childrenOf(process.pid).filter((p) => !before.has(p));
  await accounts.close();
  // At once: close() does not wait for the new pool to finish settling.
  for (const pid of started) assert.ok(await waitFor(() => isGone(pid)), `new process ${pid} left behind`);
  assert.equal(await reload, 'ERR_RELOAD_CLOSED');
  for (const pid of before) assert.ok(await waitFor(() => isGone(pid)), `process ${pid} left behind`);
});
