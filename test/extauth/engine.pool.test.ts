/**
 * The pool (pool.ts) on real script processes: the queue and its limits, refusals before
 * sending, replacement and backoff of processes that leave, readiness, and the three ways of
 * closing. Never a yes the script did not give, and every process is reaped.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { ExtauthError } from '../../src/extauth/errors.js';
import { ExtauthPool, type PoolOptions } from '../../src/extauth/pool.js';
import { isGone, outcome, waitFor } from '../helpers/engine.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture } from '../helpers/paths.js';
import { holdEnv, SCRIPT, ups, within } from '../helpers/scripted.js';

// The tests wait on child processes far more than they compute: they run side by side.
describe('pool', { concurrency: true }, () => {
  function pool(
    t: TestContext,
    options: Partial<PoolOptions> & { env?: NodeJS.ProcessEnv; logger?: MemoryLogger } = {},
  ): ExtauthPool & { release(): void; up(n: number): Promise<void> } {
    const { FIXTURE_RELEASE, release } = holdEnv();
    const logger = options.logger ?? new MemoryLogger();
    const p = new ExtauthPool({
      logger,
      argv: SCRIPT,
      protocol: 'generic',
      size: 1,
      timeoutMs: 20_000,
      queueLimit: 10,
      queueTimeoutMs: 20_000,
      killGraceMs: 200,
      startQuietMs: 0,
      ...options,
      env: { ...process.env, FIXTURE_RELEASE, FIXTURE_UP: '1', FIXTURE_NODE: process.execPath, ...options.env },
    });
    t.after(() => within(p.close({ force: true }), 30_000, 'the pool close'));
    const up = async (n: number) => assert.ok(await waitFor(() => ups(logger) >= n), `${n} scripts loaded`);
    return Object.assign(p, { release, up });
  }

  /** A pool of fail-first.sh: its first `fails` starts die at once (code 3), the later ones serve. */
  function failingFirst(t: TestContext, fails: number, options: Partial<PoolOptions> & { logger?: MemoryLogger } = {}): ReturnType<typeof pool> {
    const dir = mkdtempSync(join(tmpdir(), 'gh-count-'));
    return pool(t, { argv: [fixture('fail-first.sh')], ...options, env: { FIXTURE_COUNT_FILE: join(dir, 'count'), FIXTURE_FAIL_UNTIL: String(fails) } });
  }

  test('the pool refuses a configuration without a program or with no process', () => {
    const base = { argv: SCRIPT, protocol: 'generic' as const, timeoutMs: 1, queueLimit: 1, queueTimeoutMs: 1 };
    assert.throws(() => new ExtauthPool({ ...base, argv: [], size: 1 }), { name: 'TypeError', message: 'argv must name a program' });
    for (const size of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new ExtauthPool({ ...base, size }), { name: 'TypeError', message: 'size must be a positive integer' });
    }
  });

  test('capacity is the queue limit, or the pool size without a queue', async (t) => {
    const argv = ['/nonexistent/auth-script'];
    assert.equal(pool(t, { argv, size: 2, queueLimit: 7 }).capacity, 7);
    assert.equal(pool(t, { argv, size: 2, queueLimit: 0 }).capacity, 2);
    assert.equal(pool(t, { argv, size: 2, queueLimit: 1 }).capacity, 1);
  });

  test('a query as bytes goes to the script as they are, framed', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-rec-'));
    const p = pool(t, { env: { RECORD_FILE: join(dir, 'q.hex') } });
    const bytes = Buffer.concat([Buffer.from('auth:u:h:'), Buffer.from([0xff, 0xfe])]);
    assert.equal(await p.run(bytes), false);
    assert.equal(await p.run('auth:u:h:secret'), true);
    assert.deepEqual(readFileSync(join(dir, 'q.hex'), 'utf8').trim().split('\n'), [bytes.toString('hex'), Buffer.from('auth:u:h:secret').toString('hex')]);
  });

  test('a full queue refuses at once; the queue wait is bounded; the rest are served in order', async (t) => {
    const p = pool(t, { queueLimit: 1, queueTimeoutMs: 20_000 });
    const first = p.run('auth:u:h:hold');
    assert.ok(await waitFor(() => p.stats().busy === 1));
    const second = outcome(p.run('auth:u:h:secret'));
    assert.equal(p.stats().queued, 1);
    const third = await p.run('auth:u:h:secret').catch((e: unknown) => e);
    assert.equal((third as ExtauthError).code, 'ERR_EXTAUTH_OVERLOADED');
    assert.equal((third as ExtauthError).message, 'queue limit of 1 reached');
    p.release();
    assert.equal(await within(first), true);
    assert.equal(await within(second), true);
    assert.equal(p.stats().queued, 0);

    const short = pool(t, { queueTimeoutMs: 50 });
    const held = short.run('auth:u:h:hold');
    assert.ok(await waitFor(() => short.stats().busy === 1));
    const waited = await within(short.run('auth:u:h:secret').catch((e: unknown) => e));
    assert.equal((waited as ExtauthError).code, 'ERR_EXTAUTH_OVERLOADED');
    assert.equal((waited as ExtauthError).message, 'no auth process free within 50 ms');
    short.release();
    assert.equal(await within(held), true);
  });

  test('run refuses after close, on an aborted signal, and past its deadline, without sending', async (t) => {
    const p = pool(t);
    const reason = new Error('gone');
    const aborted = await p.run('auth:u:h:secret', { signal: AbortSignal.abort(reason) }).catch((e: unknown) => e);
    assert.equal((aborted as ExtauthError).code, 'ERR_EXTAUTH_ABORTED');
    assert.equal((aborted as ExtauthError).cause, reason);
    assert.equal(await outcome(p.run('auth:u:h:secret', { deadline: performance.now() - 1 })), 'ERR_EXTAUTH_DEADLINE');
    assert.equal(await p.run('auth:u:h:secret', { signal: new AbortController().signal, deadline: performance.now() + 60_000 }), true);
    assert.equal(p.closed, false);
    const closing = p.close();
    assert.equal(p.closed, true);
    assert.equal(p.close({ force: true }), closing, 'one close');
    const closedErr = await p.run('auth:u:h:secret').catch((e: unknown) => e);
    assert.equal((closedErr as ExtauthError).code, 'ERR_EXTAUTH_CLOSED');
    assert.equal((closedErr as ExtauthError).message, 'the auth engine is closed');
    await within(closing);
    assert.deepEqual(p.pids(), []);
  });

  test('an idle process that dies is never handed a query', async (t) => {
    const p = pool(t);
    assert.ok(await waitFor(() => p.stats().idle === 1));
    const [first] = p.pids();
    process.kill(first!, 'SIGKILL');
    assert.ok(await waitFor(() => p.stats().idle === 1 && !p.pids().includes(first!)), 'replaced');
    const held = outcome(p.run('auth:u:h:hold'));
    const next = outcome(p.run('auth:u:h:secret'));
    assert.equal(p.stats().queued, 1, 'it waits for the live process');
    p.release();
    assert.deepEqual(await within(Promise.all([held, next])), [true, true]);
  });

  test('a busy process that dies takes no idle one out of service', async (t) => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'gh-pid-')), 'busy');
    const p = pool(t, { size: 2, env: { FIXTURE_HOLD_PID_FILE: pidFile } });
    assert.ok(await waitFor(() => p.stats().idle === 2));
    const dying = outcome(p.run('auth:u:h:hold'));
    assert.ok(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== ''));
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    assert.equal(await within(dying), 'ERR_EXTAUTH_EXITED');
    assert.ok(await waitFor(() => p.stats().idle === 2), 'replaced');
    // Both the process that stayed idle and the replacement take a query.
    const held = [outcome(p.run('auth:u:h:hold')), outcome(p.run('auth:u:h:hold'))];
    assert.ok(await waitFor(() => p.stats().busy === 2, 15_000), 'two busy, none queued');
    assert.equal(p.stats().queued, 0);
    p.release();
    assert.deepEqual(await within(Promise.all(held)), [true, true]);
  });

  test('stats, serving times and pids follow the processes', async (t) => {
    const before = Date.now();
    const p = pool(t, { size: 2, queueLimit: 5 });
    assert.deepEqual(p.servingSince(), []);
    assert.ok(await waitFor(() => p.stats().idle === 2));
    assert.equal(p.pids().length, 2);
    const since = p.servingSince();
    assert.equal(since.length, 2);
    for (const s of since) assert.ok(s >= before && s <= Date.now());
    const held = [p.run('auth:u:h:hold'), p.run('auth:u:h:hold')];
    const queued = outcome(p.run('auth:u:h:wrong'));
    assert.ok(await waitFor(() => p.stats().busy === 2));
    assert.deepEqual(p.stats(), { size: 2, live: 2, idle: 0, busy: 2, queued: 1, restarts: 0, timeouts: 0, badReplies: 0, exits: 0, failures: 0 });
    assert.equal(p.servingSince().length, 2, 'busy processes serve too');
    p.release();
    assert.deepEqual(await within(Promise.all(held)), [true, true]);
    assert.equal(await within(queued), false);
  });

  test('each way a process leaves is counted, and it is replaced at once after it answered', async (t) => {
    const log = new MemoryLogger();
    // Long enough for an answer on a loaded machine.
    const p = pool(t, { timeoutMs: 5000, logger: log });
    // Each query goes to a process that is up: the deadline passes while the query runs, and
    // the timeout measures the script, not the start of Node.
    const upAndIdle = async (n: number) => {
      await p.up(n);
      assert.ok(await waitFor(() => p.stats().idle === 1));
    };
    await upAndIdle(1);
    assert.equal(await p.run('auth:u:h:secret'), true);
    assert.equal(await outcome(p.run('auth:u:h:silent')), 'ERR_EXTAUTH_TIMEOUT');
    await upAndIdle(2);
    assert.equal(await outcome(p.run('auth:u:h:silent', { deadline: performance.now() + 100 })), 'ERR_EXTAUTH_DEADLINE');
    await upAndIdle(3);
    assert.equal(await p.run('auth:u:h:secret'), true);
    assert.equal(await outcome(p.run('auth:u:h:twice')), 'ERR_EXTAUTH_BAD_REPLY');
    await upAndIdle(4);
    assert.equal(await p.run('auth:u:h:secret'), true);
    assert.equal(await outcome(p.run('auth:u:h:exit-5')), 'ERR_EXTAUTH_EXITED');
    assert.equal(await p.run('auth:u:h:secret'), true);
    const s = p.stats();
    assert.deepEqual([s.timeouts, s.badReplies, s.exits, s.restarts, s.failures], [2, 1, 1, 4, 0]);
    const replaced = log.entries.filter((e) => e.msg?.startsWith('auth process replaced: '));
    assert.deepEqual(replaced.map((e) => [e.level, e.msg, e.obj['code'], e.obj['exitCode']]), [
      ['warn', 'auth process replaced: no reply within 5000 ms', 'ERR_EXTAUTH_TIMEOUT', null],
      ['warn', 'auth process replaced: more than one reply for one query', 'ERR_EXTAUTH_BAD_REPLY', null],
      ['warn', 'auth process replaced: the auth script exited (code 5)', 'ERR_EXTAUTH_EXITED', 5],
    ]);
    // The one that met the deadline never answered anything: a start-up failure, logged as one.
    const failed = log.entries.filter((e) => e.level === 'error');
    assert.deepEqual(failed.map((e) => [e.msg, e.obj['failures'], e.obj['retryInMs'], e.obj['code']]), [
      ["auth script process ended before giving any good answer: no reply before the caller's deadline", 1, 0, 'ERR_EXTAUTH_DEADLINE'],
    ]);
    const recovered = log.entries.filter((e) => e.msg === 'auth script recovered');
    assert.deepEqual(recovered.map((e) => [e.level, e.obj['failures']]), [['info', 1]]);
  });

  test('a program that dies at start is restarted with backoff, and recovers', async (t) => {
    const log = new MemoryLogger();
    // A shell dies well within the quiet period: no query reaches a start that fails.
    const p = failingFirst(t, 3, { logger: log, backoffInitialMs: 20, startQuietMs: 1000 });
    assert.equal(await within(p.run('auth:u:h:secret')), true, 'the fourth start serves');
    assert.equal(p.stats().failures, 3);
    assert.equal(p.stats().restarts, 3);
    const failed = log.entries.filter((e) => e.level === 'error');
    // Logged at failures 1 and 2, not 3 (powers of two); the delay doubles from the second.
    assert.deepEqual(failed.map((e) => [e.obj['failures'], e.obj['retryInMs'], e.obj['exitCode']]), [[1, 0, 3], [2, 20, 3]]);
    assert.equal(failed[0]!.msg, 'auth script process ended before giving any good answer: the auth script exited (code 3)');
    assert.equal(await outcome(p.run('auth:u:h:exit-9')), 'ERR_EXTAUTH_EXITED');
    assert.equal(p.stats().failures, 0, 'one answer resets the backoff');
    assert.deepEqual(log.entries.filter((e) => e.msg === 'auth script recovered').map((e) => e.obj['failures']), [3]);
    assert.equal(await within(p.run('auth:u:h:secret')), true);
    assert.ok(await within(p.whenReady({ timeoutMs: 20_000, settleMs: 0 })));
  });

  test('every process down, its replacement due within the queue wait: a query waits for it and is answered', async (t) => {
    // The first start fails (replaced at once), the second too: the third start is backed off
    // by two seconds, well within the queue wait, and serves.
    const p = failingFirst(t, 2, { backoffInitialMs: 2000, queueTimeoutMs: 60_000, startQuietMs: 1000 });
    assert.ok(await waitFor(() => p.stats().live === 0 && p.stats().failures === 2), 'every process down, the next start backed off');
    assert.equal(await within(p.run('auth:u:h:secret')), true, 'queued until the replacement serves, not refused as unavailable');
    assert.equal(p.stats().restarts, 2);
  });

  test('a process that fails with the next start far off leaves the queue to the processes still up', async (t) => {
    // Two processes: one holds a query; the other dies on its first query twice, so its next
    // start is a minute away, beyond the queue wait. The query queued meanwhile is not failed as
    // unavailable: the live process takes it once it is free.
    const p = pool(t, { size: 2, backoffInitialMs: 60_000, backoffMaxMs: 60_000, queueTimeoutMs: 30_000 });
    await p.up(2);
    assert.ok(await waitFor(() => p.stats().idle === 2));
    const held = p.run('auth:u:h:hold');
    assert.ok(await waitFor(() => p.stats().busy === 1));
    assert.equal(await outcome(p.run('auth:u:h:exit-3')), 'ERR_EXTAUTH_EXITED');
    await p.up(3);
    assert.ok(await waitFor(() => p.stats().idle === 1), 'replaced at once after the first failure');
    const dying = outcome(p.run('auth:u:h:exit-3'));
    const queued = outcome(p.run('auth:u:h:secret'));
    assert.equal(await within(dying), 'ERR_EXTAUTH_EXITED');
    assert.deepEqual([p.stats().live, p.stats().failures, p.stats().queued], [1, 2, 1]);
    // A query sent now, with that start far off, waits for the live process too.
    const later = outcome(p.run('auth:u:h:wrong'));
    assert.equal(p.stats().queued, 2);
    p.release();
    assert.equal(await within(held), true);
    assert.equal(await within(queued), true, 'served by the process still up');
    assert.equal(await within(later), false, 'answered by the script, not refused as unavailable');
  });

  test('every process down and the next start far off: queries fail at once as unavailable', async (t) => {
    const p = pool(t, { argv: [process.execPath, fixture('crash-start.mjs')], backoffInitialMs: 60_000, queueTimeoutMs: 20_000, startQuietMs: 60_000 });
    const waiting = p.run('auth:u:h:secret').catch((e: unknown) => e);
    // First failure: replaced at once; second: the next start is a minute away.
    const err = (await within(waiting, 15_000, 'the queued query fails before its queue wait')) as ExtauthError;
    assert.equal(err.code, 'ERR_EXTAUTH_UNAVAILABLE');
    assert.equal(err.message, 'no auth process available (restarting after 2 failures: the auth script exited (code 3))');
    const now = (await within(p.run('auth:u:h:secret').catch((e: unknown) => e), 15_000, 'a new query fails at once')) as ExtauthError;
    assert.equal(now.code, 'ERR_EXTAUTH_UNAVAILABLE');
    assert.deepEqual([p.stats().live, p.stats().failures, p.stats().exits, p.stats().restarts], [0, 2, 2, 2]);
    assert.equal(await within(p.whenReady({ timeoutMs: 100, settleMs: 0 })), false);
  });

  test('a program that cannot be started: unavailable as ERR_EXTAUTH_SPAWN_FAILED', async (t) => {
    const p = pool(t, { argv: ['/nonexistent/auth-script'], backoffInitialMs: 60_000, queueTimeoutMs: 20_000 });
    assert.deepEqual(p.pids(), [], 'a process that never started has no pid to list');
    const err = (await within(p.run('auth:u:h:secret').catch((e: unknown) => e), 15_000)) as ExtauthError;
    assert.equal(err.code, 'ERR_EXTAUTH_SPAWN_FAILED');
    assert.match(err.message, /^no auth process available \(restarting after 2 failures: spawn \/nonexistent\/auth-script ENOENT\)$/);
  });

  test('whenReady: true once every process serves for the settle time, false when closed or failing', async (t) => {
    const p = pool(t, { size: 2 });
    assert.equal(await within(p.whenReady({ timeoutMs: 20_000 })), true, 'the default settle time passes');
    const failing = pool(t, { argv: [process.execPath, fixture('crash-start.mjs')], backoffInitialMs: 50, startQuietMs: 60_000 });
    assert.equal(await within(failing.whenReady({ timeoutMs: 1500, settleMs: 0 })), false);
    // Closing ends the wait at once, long before its own timeout.
    const closing = pool(t);
    const answer = closing.whenReady({ timeoutMs: 600_000, settleMs: 60_000 });
    void closing.close();
    assert.equal(await within(answer), false);
  });

  test('whenReady: the settle time is waited for; busy processes count as serving; an unanswered restart is a failure', async (t) => {
    const p = pool(t, { size: 2 });
    await p.up(2);
    assert.equal(await within(p.whenReady({ timeoutMs: 20_000, settleMs: 0 })), true);
    assert.equal(await within(p.whenReady({ timeoutMs: 500, settleMs: 600_000 })), false, 'a settle time longer than the wait never passes');
    const held = p.run('auth:u:h:hold');
    assert.ok(await waitFor(() => p.stats().busy === 1 && p.stats().idle === 1));
    assert.equal(await within(p.whenReady({ timeoutMs: 20_000, settleMs: 0 })), true, 'one busy, one idle: both serve');
    p.release();
    assert.equal(await within(held), true);
    // A start that died before answering anything, and its replacement that serves: the start-up
    // failure stands (until a process that answered ends, as for readiness), so not ready.
    const f = failingFirst(t, 1);
    assert.ok(await waitFor(() => f.stats().failures === 1 && f.stats().idle === 1), 'restarted, and serving');
    assert.equal(await within(f.whenReady({ timeoutMs: 500, settleMs: 0 })), false);
    assert.equal(await f.run('auth:u:h:secret'), true, 'the replacement serves (positive control)');
  });

  test('close fails the queued queries, lets the one in flight finish, and replaces nothing', async (t) => {
    const p = pool(t);
    const held = p.run('auth:u:h:hold');
    assert.ok(await waitFor(() => p.stats().busy === 1));
    const queued = outcome(p.run('auth:u:h:secret'));
    const closing = p.close({ eofGraceMs: 60_000 });
    assert.equal(await within(queued), 'ERR_EXTAUTH_CLOSED');
    p.release();
    assert.equal(await within(held), true);
    await within(closing);
    assert.deepEqual(p.pids(), []);
    assert.equal(p.stats().restarts, 0);
  });

  test('a forced close fails the query in flight and kills at once', async (t) => {
    const p = pool(t, { env: { FIXTURE_STUBBORN: '1' } });
    const held = outcome(p.run('auth:u:h:hold'));
    assert.ok(await waitFor(() => p.stats().busy === 1));
    const [pid] = p.pids();
    // Force wins over drain: the held query is not waited for.
    await within(p.close({ force: true, drain: true, eofGraceMs: 60_000 }));
    assert.equal(await held, 'ERR_EXTAUTH_CLOSED');
    assert.ok(isGone(pid!));
    assert.equal(p.stats().exits, 0, 'a closed pool counts nothing');
  });

  test('a draining close serves the queued queries, replacing a process that dies meanwhile', async (t) => {
    const p = pool(t);
    const dying = outcome(p.run('auth:u:h:hold'));
    assert.ok(await waitFor(() => p.stats().busy === 1));
    const queued = [outcome(p.run('auth:u:h:secret')), outcome(p.run('auth:u:h:wrong'))];
    const closing = p.close({ drain: true });
    assert.equal(await outcome(p.run('auth:u:h:secret')), 'ERR_EXTAUTH_CLOSED', 'no new queries');
    const [pid] = p.pids();
    process.kill(pid!, 'SIGKILL');
    assert.equal(await within(dying), 'ERR_EXTAUTH_EXITED');
    assert.deepEqual(await within(Promise.all(queued)), [true, false], 'served by the replacement');
    await within(closing);
    assert.deepEqual(p.pids(), []);
  });

  test('a draining close with nothing queued stops at once', async (t) => {
    const p = pool(t);
    assert.equal(await p.run('auth:u:h:secret'), true);
    await within(p.close({ drain: true, eofGraceMs: 60_000 }), 30_000, 'EOF ends the idle script');
    assert.deepEqual(p.pids(), []);
  });

  test('a draining close: a replacement whose start was backed off still comes for the queued queries', async (t) => {
    const p = failingFirst(t, 2, { backoffInitialMs: 100, startQuietMs: 1000 });
    const queued = outcome(p.run('auth:u:h:secret'));
    const closing = p.close({ drain: true });
    assert.equal(await within(queued), true);
    await within(closing);
    assert.deepEqual(p.pids(), []);
  });
});
