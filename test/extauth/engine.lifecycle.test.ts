/** The engine's lifecycle against real processes: answers, restarts, timeouts, shutdown. */
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExtauthEngine } from '../../src/extauth/engine.js';
import { fixtureEngine, isGone, outcome, waitFor } from '../helpers/engine.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture } from '../helpers/paths.js';

for (const protocol of ['generic', 'ejabberd'] as const) {
  test(`${protocol}: all six commands reach the script and their answers come back`, async (t) => {
    const { engine, received } = fixtureEngine('fast.mjs', { protocol, record: true });
    t.after(() => engine.close());
    assert.equal(await engine.auth('alice', 'localhost', 'secret'), true);
    assert.equal(await engine.auth('alice', 'localhost', 'nope'), false);
    assert.equal(await engine.isuser('alice', 'localhost'), true);
    assert.equal(await engine.isuser('nobody1', 'localhost'), false);
    assert.equal(await engine.setpass('alice', 'localhost', 'n3w'), true);
    assert.equal(await engine.tryregister('carol', 'localhost', 'pw'), true);
    assert.equal(await engine.removeuser('carol', 'localhost'), true);
    assert.equal(await engine.removeuser3('alice', 'localhost', 'n3w'), true);
    assert.deepEqual(received().map(String), [
      'auth:alice:localhost:secret',
      'auth:alice:localhost:nope',
      'isuser:alice:localhost',
      'isuser:nobody1:localhost',
      'setpass:alice:localhost:n3w',
      'tryregister:carol:localhost:pw',
      'removeuser:carol:localhost',
      'removeuser3:alice:localhost:n3w',
    ]);
  });

  test(`${protocol}: UTF-8, colons and control characters arrive byte-exact`, async (t) => {
    const { engine, received } = fixtureEngine('fast.mjs', { protocol, record: true });
    t.after(() => engine.close());
    const passwords = ['pässwörd€', 'a:b::c:', '\x03\x01\x1b[0m\x7f', '𝄞 spaced\ttab', ':'];
    for (const p of passwords) await engine.auth('jürgen', '例え.jp', p);
    const got = received();
    assert.equal(got.length, passwords.length);
    passwords.forEach((p, i) => assert.deepEqual(got[i], Buffer.from(`auth:jürgen:例え.jp:${p}`, 'utf8')));
    // And the script's own verdict on a UTF-8 password is honoured.
    const exact = fixtureEngine('fast.mjs', { protocol, env: { FIXTURE_PASSWORD: 'pässwörd€:x' } });
    t.after(() => exact.engine.close());
    assert.equal(await exact.engine.auth('a', 'h', 'pässwörd€:x'), true);
    assert.equal(await exact.engine.auth('a', 'h', 'passwörd€:x'), false);
  });
}

test('an oversized query is rejected before sending, and the next query is not disturbed', async (t) => {
  const { engine, received } = fixtureEngine('fast.mjs', { protocol: 'ejabberd', record: true, limits: { maxQueryBytes: 512 } });
  t.after(() => engine.close());
  const err = await engine.auth('alice', 'localhost', 'x'.repeat(600)).catch((e: unknown) => e);
  assert.equal((err as { code: string }).code, 'ERR_EXTAUTH_INVALID_INPUT');
  assert.equal((err as { field: string }).field, 'query');
  assert.equal((err as Error).message, 'query is longer than 512 bytes');
  assert.equal(await engine.auth('alice', 'localhost', 'secret'), true);
  assert.deepEqual(received().map(String), ['auth:alice:localhost:secret']);
});

test('the ejabberd frame caps the query at 65535 bytes whatever the configured limit', async (t) => {
  const { engine } = fixtureEngine('fast.mjs', { protocol: 'ejabberd', limits: { maxQueryBytes: 1_000_000 } });
  t.after(() => engine.close());
  assert.equal(engine.limits.maxQueryBytes, 65535);
  assert.equal(await outcome(engine.auth('a', 'h', 'x'.repeat(70_000))), 'ERR_EXTAUTH_INVALID_INPUT');
});

test('an empty password is "no" without a query', async (t) => {
  const { engine, received } = fixtureEngine('fast.mjs', { record: true, env: { FIXTURE_PASSWORD: '' } });
  t.after(() => engine.close());
  assert.equal(await engine.auth('alice', 'localhost', ''), false);
  assert.equal(await engine.setpass('alice', 'localhost', ''), false);
  assert.deepEqual(received(), []);
  // Positive control: a query that is sent is recorded.
  assert.equal(await engine.auth('alice', 'localhost', 'x'), false);
  assert.deepEqual(received().map(String), ['auth:alice:localhost:x']);
});

test('a process that crashes mid-query fails that query as an error and is replaced', async (t) => {
  const { engine } = fixtureEngine('crash-query.mjs');
  t.after(() => engine.close());
  assert.ok(await waitFor(() => engine.stats().idle === 1), 'the first process is up');
  const [pid] = engine.pids();
  assert.equal(typeof pid, 'number');
  assert.equal(await engine.auth('alice', 'localhost', 'secret'), true);
  const err = await engine.auth('alice', 'localhost', 'crash').catch((e: unknown) => e);
  assert.equal((err as { code: string }).code, 'ERR_EXTAUTH_EXITED');
  assert.equal((err as { exitCode: number }).exitCode, 7);
  assert.equal((err as { sent: boolean }).sent, true);
  assert.equal(await engine.auth('alice', 'localhost', 'secret'), true);
  const [replacement] = engine.pids();
  assert.equal(typeof replacement, 'number', 'a replacement runs');
  assert.notEqual(replacement, pid);
  assert.ok(isGone(pid!), 'the crashed process is reaped');
  assert.equal(engine.stats().restarts, 1);
});

test('a program that dies at start is restarted with backoff, answers are errors, never yes', async (t) => {
  const log = new MemoryLogger();
  const { engine } = fixtureEngine('crash-start.mjs', { logger: log, backoffInitialMs: 50, backoffMaxMs: 400, queueTimeoutMs: 100 });
  t.after(() => engine.close());
  const results = new Set<boolean | string>();
  // Ask until the fifth restart: each answer comes within the queue wait, so this ends.
  while (engine.stats().restarts < 5) results.add(await outcome(engine.auth('alice', 'localhost', 'secret')));
  assert.ok(results.size > 0);
  assert.ok(!results.has(true) && !results.has(false), [...results].join());
  // Logged once per burst, then at failures 2, 4, 8..., each with the delay the pool chose:
  // none for the first replacement, then doubling from 50 ms.
  const failures = log.entries.filter((e) => e.msg?.startsWith('auth script process ended before giving any good answer'));
  assert.deepEqual(
    failures.slice(0, 3).map((e) => [e.obj['failures'], e.obj['retryInMs']]),
    [[1, 0], [2, 50], [4, 200]],
  );
  assert.ok(failures.every((e) => [1, 2, 4, 8, 16].includes(e.obj['failures'] as number)), 'not once per crash');
  // The script's stderr is in the log.
  assert.ok(log.entries.some((e) => e.obj['stderr'] === 'fatal: cannot open the user database'));
});

test('a program that cannot be started fails with ERR_EXTAUTH_SPAWN_FAILED', async (t) => {
  const engine = new ExtauthEngine({
    argv: ['/nonexistent/auth-script'],
    protocol: 'generic',
    size: 1,
    timeoutMs: 1000,
    queueLimit: 10,
    queueTimeoutMs: 100,
    backoffInitialMs: 1000,
  });
  t.after(() => engine.close());
  const codes = new Set<boolean | string>();
  for (let i = 0; i < 4; i++) {
    codes.add(await outcome(engine.auth('a', 'h', 'p')));
    await new Promise((r) => setTimeout(r, 30));
  }
  assert.ok(codes.has('ERR_EXTAUTH_SPAWN_FAILED'), [...codes].join());
  assert.ok(!codes.has(true) && !codes.has(false));
});

test('a timeout kills the process (SIGTERM, then SIGKILL of its whole group) and replaces it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-stub-'));
  const pidFile = join(dir, 'grandchild.pid');
  const engine = new ExtauthEngine({
    argv: [process.execPath, fixture('stubborn.mjs')],
    env: { ...process.env, PID_FILE: pidFile },
    protocol: 'generic',
    size: 1,
    timeoutMs: 2000,
    queueLimit: 10,
    queueTimeoutMs: 2000,
    killGraceMs: 200,
  });
  t.after(() => engine.close({ force: true }));
  assert.equal(await engine.auth('a', 'h', 'secret'), true);
  const [pid] = engine.pids();
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  const silent = new ExtauthEngine({
    argv: [process.execPath, fixture('silent.mjs')],
    protocol: 'generic',
    size: 1,
    timeoutMs: 100,
    queueLimit: 10,
    queueTimeoutMs: 2000,
  });
  t.after(() => silent.close());
  assert.ok(await waitFor(() => silent.stats().idle === 1), 'the first process is up');
  const [silentPid] = silent.pids();
  assert.equal(typeof silentPid, 'number');
  assert.equal(await outcome(silent.auth('a', 'h', 'x')), 'ERR_EXTAUTH_TIMEOUT');
  assert.ok(await waitFor(() => isGone(silentPid!)), 'timed-out process is gone');
  assert.ok(await waitFor(() => silent.stats().idle === 1), 'a replacement is up');
  const [replacement] = silent.pids();
  assert.equal(typeof replacement, 'number');
  assert.notEqual(replacement, silentPid);
  // Shutdown of the stubborn script (ignores EOF and SIGTERM): SIGKILL reaches it and its grandchild.
  await engine.close();
  assert.ok(isGone(pid!), 'script killed');
  assert.ok(await waitFor(() => isGone(grandchild)), 'grandchild killed with the process group');
});

test('stderr is logged line by line, rate-limited, with the password redacted', async (t) => {
  const log = new MemoryLogger();
  const { engine } = fixtureEngine('chatty.mjs', { logger: log, env: { FIXTURE_STDERR_LINES: '200' } });
  t.after(() => engine.close());
  const password = 'Tr0ub4dor&3-unique';
  assert.equal(await engine.auth('alice', 'localhost', password), false);
  assert.equal(await engine.auth('alice', 'localhost', 'secret'), true);
  await engine.close();
  const text = log.text();
  assert.ok(!text.includes(password), 'password leaked into the log');
  assert.ok(!text.includes(':secret'), 'password leaked into the log');
  assert.ok(text.includes('got query auth:alice:localhost:[redacted]'));
  const stderrLines = log.entries.filter((e) => 'stderr' in e.obj).length;
  assert.ok(stderrLines >= 10 && stderrLines < 100, `${stderrLines} stderr lines logged of 400`);
  assert.ok(log.entries.some((e) => typeof e.obj['suppressed'] === 'number'));
});

test('queries wait in FIFO order for a free process; the queue wait is bounded', async (t) => {
  const { engine } = fixtureEngine('slow.mjs', { env: { FIXTURE_DELAY_MS: '100' }, queueTimeoutMs: 250, queueLimit: 10 });
  t.after(() => engine.close());
  assert.ok(await waitFor(() => engine.stats().idle === 1));
  const served: number[] = [];
  const all = [0, 1, 2, 3, 4].map((i) =>
    outcome(engine.auth(`u${i}`, 'h', 'delay-100')).then((r) => {
      if (r === true) served.push(i);
      return r;
    }),
  );
  const results = await Promise.all(all);
  // One process, 100 ms a query, 250 ms of patience: the first ones are served in arrival
  // order, the last can never be (it would start after 400 ms) and is refused as overloaded.
  assert.deepEqual(served, [0, 1, 2, 3, 4].slice(0, served.length));
  assert.ok(served.length >= 1 && served.length <= 3, JSON.stringify(results));
  for (const r of results.slice(served.length)) assert.equal(r, 'ERR_EXTAUTH_OVERLOADED');
});

test('an AbortSignal cancels a waiting or running query', async (t) => {
  const { engine } = fixtureEngine('slow.mjs', { env: { FIXTURE_DELAY_MS: '1000' } });
  t.after(() => engine.close());
  const ac = new AbortController();
  const running = outcome(engine.auth('a', 'h', 'x', { signal: ac.signal }));
  const queued = outcome(engine.auth('b', 'h', 'x', { signal: ac.signal }));
  // Aborted once one runs and the other waits (not after a fixed delay a loaded machine stretches).
  assert.ok(await waitFor(() => engine.stats().busy === 1 && engine.stats().queued === 1));
  ac.abort();
  assert.deepEqual(await Promise.all([running, queued]), ['ERR_EXTAUTH_ABORTED', 'ERR_EXTAUTH_ABORTED']);
  assert.equal(await outcome(engine.auth('c', 'h', 'x', { signal: AbortSignal.abort() })), 'ERR_EXTAUTH_ABORTED');
  assert.equal(await engine.auth('d', 'h', 'delay-1'), true);
});

test('10,000 concurrent queries on 4 processes with a queue limit of 1,000: every one answered or overloaded, memory bounded', async (t) => {
  const { engine } = fixtureEngine('fast.mjs', { size: 4, queueLimit: 1000, queueTimeoutMs: 10_000, timeoutMs: 10_000 });
  t.after(() => engine.close());
  assert.ok(await waitFor(() => engine.stats().idle === 4));
  const heapBefore = process.memoryUsage().heapUsed;
  let maxQueued = 0;
  const counts = new Map<string, number>();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 10_000; i++) {
    pending.push(
      outcome(engine.auth(`user${i}`, 'localhost', i % 2 ? 'secret' : 'wrong')).then((r) => {
        const key = r === true ? (i % 2 ? 'yes-right' : 'yes-WRONG') : r === false ? (i % 2 ? 'no-WRONG' : 'no-right') : String(r);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }),
    );
    maxQueued = Math.max(maxQueued, engine.stats().queued);
  }
  await Promise.all(pending);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  assert.equal(total, 10_000);
  assert.equal(counts.get('yes-WRONG'), undefined, 'a wrong password was accepted');
  assert.equal(counts.get('no-WRONG'), undefined, 'a right password was refused');
  const served = (counts.get('yes-right') ?? 0) + (counts.get('no-right') ?? 0);
  const overloaded = counts.get('ERR_EXTAUTH_OVERLOADED') ?? 0;
  assert.equal(served + overloaded, 10_000, JSON.stringify([...counts]));
  assert.ok(served >= 1004, `served ${served}`);
  assert.ok(overloaded > 0);
  assert.ok(maxQueued <= 1000, `queue reached ${maxQueued}`);
  assert.equal(engine.stats().queued, 0);
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(heapGrowth < 50 * 1024 * 1024, `heap grew ${heapGrowth} bytes`);
});

test('close() fails queued queries, lets in-flight ones finish, and reaps every process', async (t) => {
  const { engine } = fixtureEngine('slow.mjs', { size: 2, env: { FIXTURE_DELAY_MS: '1000' } });
  t.after(() => engine.close());
  assert.ok(await waitFor(() => engine.stats().idle === 2));
  const pids = engine.pids();
  const inflight = [outcome(engine.auth('a', 'h', 'delay-1000')), outcome(engine.auth('b', 'h', 'delay-1000'))];
  const queued = outcome(engine.auth('c', 'h', 'delay-1000'));
  // Closed once two run and one waits.
  assert.ok(await waitFor(() => engine.stats().busy === 2 && engine.stats().queued === 1));
  await engine.close();
  assert.deepEqual(await Promise.all(inflight), [true, true]);
  assert.equal(await queued, 'ERR_EXTAUTH_CLOSED');
  assert.equal(await outcome(engine.auth('d', 'h', 'x')), 'ERR_EXTAUTH_CLOSED');
  assert.deepEqual(engine.pids(), []);
  for (const pid of pids) assert.ok(isGone(pid), `pid ${pid} still exists`);
});

test('positive cache: a repeated yes is answered from memory, setpass invalidates, no is never cached', async (t) => {
  const { engine, received } = fixtureEngine('fast.mjs', { record: true, cacheTtlMs: 60_000 });
  t.after(() => engine.close());
  assert.equal(await engine.auth('alice', 'h', 'secret'), true);
  assert.equal(await engine.auth('alice', 'h', 'secret'), true);
  assert.equal(await engine.auth('alice', 'h', 'wrong'), false);
  assert.equal(await engine.auth('alice', 'h', 'wrong'), false);
  assert.equal(received().length, 3);
  assert.equal(engine.stats().cached, 1);
  await engine.setpass('alice', 'h', 'other');
  assert.equal(engine.stats().cached, 0);
  assert.equal(await engine.auth('alice', 'h', 'secret'), true);
  assert.equal(received().length, 5);
});
