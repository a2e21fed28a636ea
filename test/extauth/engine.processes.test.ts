/**
 * One auth script process (process.ts), the pool (pool.ts) and the engine (engine.ts), each
 * against real script processes (test/fixtures/scripted.mjs does what each query's password
 * says) with short timeouts: a script that answers twice, answers after closing its stdout,
 * dies mid-query, leaves a grandchild behind, ignores SIGTERM, talks before it is asked, keeps
 * dying at start. Never a yes the script did not give, and every process is reaped.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { ExtauthError } from '../../src/extauth/errors.js';
import { Job } from '../../src/extauth/job.js';
import { ExtauthPool, type PoolOptions } from '../../src/extauth/pool.js';
import { AuthProcess, type ProcessEnd, type ProcessOptions } from '../../src/extauth/process.js';
import { generic } from '../../src/extauth/wire/protocol.js';
import { fixtureEngine, isGone, outcome, waitFor } from '../helpers/engine.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture } from '../helpers/paths.js';

const SCRIPT = [process.execPath, fixture('scripted.mjs')];

/** Rejects when `p` takes longer than `ms`: a bound on a wait, never an assertion on speed. */
function within<T>(p: Promise<T>, ms = 30_000, what = 'the wait'): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// The tests wait on child processes far more than they compute: they run side by side.
describe('engine processes', { concurrency: true }, () => {
  // --- AuthProcess -----------------------------------------------------------------------------

  /** An environment for the script's `hold` queries, and what answers them. */
  function holdEnv(): { FIXTURE_RELEASE: string; release(): void } {
    const file = join(mkdtempSync(join(tmpdir(), 'gh-hold-')), 'release');
    return { FIXTURE_RELEASE: file, release: () => writeFileSync(file, '') };
  }

  interface Watched {
    proc: AuthProcess;
    release(): void;
    log: MemoryLogger;
    idle: number;
    gone: ProcessEnd[];
    closed: number;
  }

  function startProcess(t: TestContext, options: Partial<ProcessOptions> & { env?: NodeJS.ProcessEnv } = {}): Watched {
    const log = new MemoryLogger();
    const { FIXTURE_RELEASE, release } = holdEnv();
    const w = { log, release, idle: 0, gone: [], closed: 0 } as unknown as Watched;
    w.proc = new AuthProcess(
      {
        argv: SCRIPT,
        protocol: generic,
        timeoutMs: 20_000,
        killGraceMs: 200,
        maxReplyBytes: 256,
        startQuietMs: 0,
        logger: log,
        ...options,
        env: { ...process.env, FIXTURE_RELEASE, FIXTURE_UP: '1', ...options.env },
      },
      {
        idle: () => w.idle++,
        gone: (_p, end) => w.gone.push(end),
        closed: () => w.closed++,
      },
    );
    t.after(() => within(w.proc.kill(), 30_000, 'the kill'));
    return w;
  }

  /** A job for `password`, and the promise of its outcome (true, false or the error). */
  function query(password: string): { job: Job; result: Promise<boolean | ExtauthError> } {
    let job!: Job;
    const result = new Promise<boolean | ExtauthError>((resolve) => {
      job = new Job(generic.frameText(`auth:u:h:${password}`), password, resolve, resolve);
    });
    return { job, result };
  }

  /** The script's "up" lines on stderr: it is loaded and reading (FIXTURE_UP). */
  function ups(log: MemoryLogger): number {
    return log.entries.filter((e) => e.obj['stderr'] === 'up').length;
  }

  /**
   * Ready, and the script loaded: a query's timeout then measures the script's answer, not
   * the start of Node on a loaded machine.
   */
  async function ready(w: Watched): Promise<void> {
    assert.ok(await waitFor(() => (w.idle >= 1 && ups(w.log) >= 1) || w.gone.length > 0), 'the process became ready');
    assert.equal(w.proc.state, 'ready');
  }

  async function run(w: Watched, password: string): Promise<boolean | ExtauthError> {
    const q = query(password);
    w.proc.execute(q.job);
    return within(q.result);
  }

  function messages(log: MemoryLogger): (string | undefined)[] {
    return log.entries.filter((e) => !('stderr' in e.obj)).map((e) => e.msg);
  }

  test('a process answers queries one at a time and is ready again after each', async (t) => {
    const w = startProcess(t);
    assert.equal(w.proc.state, 'starting');
    assert.equal(w.proc.readyAt, null);
    assert.equal(typeof w.proc.pid, 'number');
    assert.throws(() => w.proc.execute(query('secret').job), { message: 'execute() in state starting' });
    const before = Date.now();
    await ready(w);
    assert.ok(w.proc.readyAt !== null && w.proc.readyAt >= before && w.proc.readyAt <= Date.now());
    const q = query('secret');
    w.proc.execute(q.job);
    assert.equal(w.proc.state, 'busy');
    assert.throws(() => w.proc.execute(query('x').job), { message: 'execute() in state busy' });
    assert.equal(await within(q.result), true);
    assert.equal(w.proc.state, 'ready');
    assert.equal(w.idle, 2);
    assert.equal(await run(w, 'wrong'), false);
    assert.equal(await run(w, 'split'), true, 'a reply in two writes is assembled');
    assert.equal(w.idle, 4);
    assert.deepEqual(w.gone, []);
  });

  test('output before the first query retires the process before it takes any', async (t) => {
    const w = startProcess(t, { startQuietMs: 60_000, env: { FIXTURE_BANNER: '1' } });
    await within(w.proc.closedPromise);
    assert.equal(w.idle, 0);
    assert.equal(w.proc.state, 'dead');
    assert.deepEqual(w.gone.map((g) => [g.code, g.detail, g.answered]), [['ERR_EXTAUTH_BAD_REPLY', 'data arrived while no query was outstanding', false]]);
    assert.equal(w.closed, 1);
    const warn = w.log.entries.find((e) => e.obj['code'] === 'ERR_WIRE_UNEXPECTED_DATA');
    assert.equal(warn?.msg, 'auth script broke the protocol: data arrived while no query was outstanding; recycling it');
    assert.equal(warn?.obj['bytes'], 2);
    assert.equal(warn?.obj['proc'], w.proc.id);
  });

  test('two replies in one write: the query fails and the process is retired', async (t) => {
    const w = startProcess(t);
    await ready(w);
    assert.equal(await run(w, 'wrong'), false);
    const err = (await run(w, 'twice')) as ExtauthError;
    assert.equal(err.code, 'ERR_EXTAUTH_BAD_REPLY');
    assert.equal(err.message, 'more than one reply for one query');
    assert.equal(err.sent, true);
    assert.equal(w.proc.state, 'stopping');
    assert.deepEqual(w.gone.map((g) => [g.code, g.answered]), [['ERR_EXTAUTH_BAD_REPLY', true]]);
    await within(w.proc.closedPromise);
    assert.equal(w.proc.state, 'dead');
    assert.ok(isGone(w.proc.pid!));
    assert.equal(w.idle, 2, 'never ready again');
  });

  test('no reply within the timeout: the query fails, the process is killed', async (t) => {
    // A kill grace far beyond the wait: the script (which does not ignore SIGTERM) must go on
    // the SIGTERM of the retirement.
    const w = startProcess(t, { timeoutMs: 300, killGraceMs: 120_000 });
    await ready(w);
    const err = (await run(w, 'silent')) as ExtauthError;
    assert.equal(err.code, 'ERR_EXTAUTH_TIMEOUT');
    assert.equal(err.message, 'no reply within 300 ms');
    assert.deepEqual(w.gone.map((g) => [g.code, g.detail]), [['ERR_EXTAUTH_TIMEOUT', 'no reply within 300 ms']]);
    const warn = w.log.entries.find((e) => e.msg === 'auth script timed out; killing it');
    assert.equal(warn?.obj['timeoutMs'], 300);
    await within(w.proc.closedPromise);
    assert.ok(isGone(w.proc.pid!));
  });

  test('the timeout of an answered query never ends the idle process', async (t) => {
    // Both processes start their query's timer; the first answers, the second does not. When the
    // second times out, the first one's timer (started earlier) has fired too.
    // Long enough for an answer on a loaded machine.
    const idle = startProcess(t, { timeoutMs: 5000 });
    const busy = startProcess(t, { timeoutMs: 5000 });
    await ready(idle);
    await ready(busy);
    assert.equal(await run(idle, 'secret'), true);
    assert.equal(code(await run(busy, 'silent')), 'ERR_EXTAUTH_TIMEOUT');
    assert.equal(idle.proc.state, 'ready');
    assert.deepEqual(idle.gone, []);
    assert.equal(await run(idle, 'secret'), true);
  });

  test('a second query gets the whole timeout of its own', async (t) => {
    const w = startProcess(t, { timeoutMs: 5000 });
    await ready(w);
    assert.equal(await run(w, 'secret'), true);
    assert.equal(code(await run(w, 'silent')), 'ERR_EXTAUTH_TIMEOUT', 'the re-armed timer fires');
  });

  function code(r: boolean | ExtauthError | string): unknown {
    return r instanceof ExtauthError ? r.code : r;
  }

  test("a caller's deadline ends the process busy with the query", async (t) => {
    const w = startProcess(t);
    await ready(w);
    const q = query('silent');
    q.job.expireAt(performance.now() + 300);
    w.proc.execute(q.job);
    const err = (await within(q.result)) as ExtauthError;
    assert.equal(err.code, 'ERR_EXTAUTH_DEADLINE');
    assert.equal(err.sent, true);
    assert.deepEqual(w.gone.map((g) => [g.code, g.detail]), [['ERR_EXTAUTH_DEADLINE', "no reply before the caller's deadline"]]);
    assert.ok(messages(w.log).includes("the caller's deadline passed before the auth script answered; replacing it"));
    await within(w.proc.closedPromise);
  });

  test('a process that ignores SIGTERM is killed after the grace period', async (t) => {
    const w = startProcess(t, { timeoutMs: 300, killGraceMs: 100, env: { FIXTURE_STUBBORN: '1' } });
    await ready(w);
    assert.equal(code(await run(w, 'silent')), 'ERR_EXTAUTH_TIMEOUT');
    await within(w.proc.closedPromise, 30_000, 'SIGKILL after the grace');
    assert.ok(isGone(w.proc.pid!));
    w.proc.retire('ERR_EXTAUTH_TIMEOUT', 'again');
    assert.equal(w.gone.length, 1, 'gone is reported once');
    assert.equal(w.closed, 1);
  });

  test('a script that dies mid-query: the query fails with its exit code', async (t) => {
    const w = startProcess(t);
    await ready(w);
    const err = (await run(w, 'exit-7')) as ExtauthError;
    assert.equal(err.code, 'ERR_EXTAUTH_EXITED');
    assert.equal(err.message, 'the auth script exited (code 7)');
    assert.equal(err.exitCode, 7);
    assert.equal(err.signal, null);
    assert.equal(err.sent, true);
    await within(w.proc.closedPromise);
    assert.deepEqual(w.gone.map((g) => [g.code, g.detail, g.exitCode, g.signal, g.answered]), [
      ['ERR_EXTAUTH_EXITED', 'the auth script exited (code 7)', 7, null, false],
    ]);
    assert.equal(w.proc.state, 'dead');
  });

  test('a script killed by a signal mid-query: the query fails with the signal', async (t) => {
    const w = startProcess(t);
    await ready(w);
    const q = query('silent');
    w.proc.execute(q.job);
    process.kill(w.proc.pid!, 'SIGKILL');
    const err = (await within(q.result)) as ExtauthError;
    assert.equal(err.code, 'ERR_EXTAUTH_EXITED');
    assert.equal(err.message, 'the auth script exited (signal SIGKILL)');
    assert.equal(err.signal, 'SIGKILL');
    assert.equal(err.exitCode, null);
    await within(w.proc.closedPromise);
    assert.deepEqual(w.gone.map((g) => [g.detail, g.signal, g.exitCode]), [['the auth script exited (signal SIGKILL)', 'SIGKILL', null]]);
  });

  test('a script that exits while idle is reported gone, with its exit code', async (t) => {
    const w = startProcess(t, { startQuietMs: 60_000 });
    process.kill(w.proc.pid!, 'SIGTERM');
    await within(w.proc.closedPromise);
    assert.deepEqual(w.gone.map((g) => [g.code, g.detail]), [['ERR_EXTAUTH_EXITED', 'the auth script exited (signal SIGTERM)']]);
    assert.equal(w.closed, 1);
  });

  test('a script that closes its stdout mid-query and stays alive: the query fails, the process is ended', async (t) => {
    const w = startProcess(t, { env: { FIXTURE_STUBBORN: '1' }, killGraceMs: 100 });
    await ready(w);
    const err = (await run(w, 'close-stdout')) as ExtauthError;
    assert.equal(err.code, 'ERR_EXTAUTH_EXITED');
    assert.equal(err.message, 'the auth script closed its stdout');
    assert.deepEqual(w.gone.map((g) => [g.code, g.detail]), [['ERR_EXTAUTH_EXITED', 'the auth script closed its stdout']]);
    await within(w.proc.closedPromise);
    assert.ok(isGone(w.proc.pid!));
  });

  test('a script that exits leaving a grandchild on its stdout: reported, and the grandchild killed', async (t) => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'gh-pid-')), 'grandchild');
    const w = startProcess(t, { env: { FIXTURE_PID_FILE: pidFile } });
    await ready(w);
    const err = (await run(w, 'fork-exit')) as ExtauthError;
    assert.equal(err.code, 'ERR_EXTAUTH_EXITED');
    assert.equal(err.exitCode, 0);
    await within(w.proc.closedPromise, 30_000, 'close despite the open pipe');
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(grandchild > 0);
    assert.ok(await waitFor(() => isGone(grandchild), 30_000), 'the grandchild is killed with the process group');
  });

  test('a program that cannot be started is gone at once, never ready', async (t) => {
    const w = startProcess(t, { argv: ['/nonexistent/auth-script'] });
    await within(w.proc.closedPromise);
    assert.equal(w.proc.state, 'dead');
    assert.equal(w.idle, 0);
    assert.equal(w.gone.length, 1);
    assert.equal(w.gone[0]!.code, 'ERR_EXTAUTH_SPAWN_FAILED');
    assert.match(w.gone[0]!.detail, /ENOENT/);
    assert.equal(w.closed, 1);
  });

  test('shutdown: EOF ends a well-behaved script; a query in flight is answered first', async (t) => {
    const w = startProcess(t);
    await ready(w);
    const q = query('hold');
    w.proc.execute(q.job);
    const closed = w.proc.shutdown(60_000);
    assert.equal(w.proc.state, 'busy');
    w.release();
    assert.equal(await within(q.result), true);
    await within(closed, 30_000, 'EOF ends the script');
    assert.equal(w.idle, 1, 'not offered new work after its last answer');
    assert.deepEqual(w.gone.map((g) => [g.code, g.detail, g.answered]), [['ERR_EXTAUTH_CLOSED', 'shutdown', true]]);
    assert.equal(w.proc.shutdown(0), closed);
  });

  test('shutdown of a script that ignores EOF and SIGTERM: SIGTERM after the EOF grace, then SIGKILL', async (t) => {
    const w = startProcess(t, { env: { FIXTURE_STUBBORN: '1' }, killGraceMs: 100 });
    await ready(w);
    await within(w.proc.shutdown(100), 30_000, 'SIGKILL after both graces');
    assert.ok(isGone(w.proc.pid!));
  });

  test('a forced kill fails the query in flight as closed', async (t) => {
    const w = startProcess(t);
    await ready(w);
    const q = query('silent');
    w.proc.execute(q.job);
    const closed = w.proc.kill();
    const err = (await within(q.result)) as ExtauthError;
    assert.equal(err.code, 'ERR_EXTAUTH_CLOSED');
    assert.equal(err.message, 'forced close');
    assert.equal(err.sent, true);
    await within(closed);
    assert.deepEqual(w.gone.map((g) => [g.code, g.detail]), [['ERR_EXTAUTH_CLOSED', 'forced close']]);
    await within(w.proc.kill());
    assert.equal(w.gone.length, 1);
  });

  test('the passwords of the current and the previous query are redacted from stderr', async (t) => {
    const w = startProcess(t);
    await ready(w);
    assert.equal(await run(w, 'first-Pw-1'), false);
    // A query without a password (isuser) keeps the last one on the list.
    const isuser = new Promise<boolean | ExtauthError>((resolve) => w.proc.execute(new Job(generic.frameText('isuser:u:h'), undefined, resolve, resolve)));
    assert.equal(await within(isuser), true);
    assert.equal(await run(w, 'history'), false);
    const lines = () => w.log.entries.map((e) => e.obj['stderr']).filter((s) => typeof s === 'string' && s !== 'up');
    // stderr is a pipe of its own: the line may come after the reply.
    assert.ok(await waitFor(() => lines().length > 0));
    assert.deepEqual(lines(), ['seen: auth:u:h:[redacted] | isuser:u:h | auth:u:h:[redacted]']);
    assert.ok(!w.log.text().includes('first-Pw-1'));
  });

  // --- ExtauthPool -----------------------------------------------------------------------------

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
    const dir = mkdtempSync(join(tmpdir(), 'gh-count-'));
    const log = new MemoryLogger();
    // A shell dies well within the quiet period: no query reaches a start that fails.
    const p = pool(t, {
      argv: [fixture('fail-first.sh')],
      logger: log,
      backoffInitialMs: 20,
      startQuietMs: 1000,
      env: { FIXTURE_COUNT_FILE: join(dir, 'count'), FIXTURE_FAIL_UNTIL: '3' },
    });
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
    const err = (await within(p.run('auth:u:h:secret').catch((e: unknown) => e), 15_000)) as ExtauthError;
    assert.equal(err.code, 'ERR_EXTAUTH_SPAWN_FAILED');
    assert.match(err.message, /^no auth process available \(restarting after 2 failures: spawn \/nonexistent\/auth-script ENOENT\)$/);
  });

  test('whenReady: true once every process serves for the settle time, false when closed or failing', async (t) => {
    const p = pool(t, { size: 2 });
    assert.equal(await within(p.whenReady({ timeoutMs: 20_000 })), true, 'the default settle time passes');
    const failing = pool(t, { argv: [process.execPath, fixture('crash-start.mjs')], backoffInitialMs: 50, startQuietMs: 60_000 });
    assert.equal(await within(failing.whenReady({ timeoutMs: 1500, settleMs: 0 })), false);
    const closing = pool(t);
    const answer = closing.whenReady({ timeoutMs: 20_000, settleMs: 60_000 });
    void closing.close();
    assert.equal(await within(answer), false);
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
    await within(p.close({ force: true, eofGraceMs: 60_000 }));
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
    const dir = mkdtempSync(join(tmpdir(), 'gh-count-'));
    const p = pool(t, {
      argv: [fixture('fail-first.sh')],
      backoffInitialMs: 100,
      startQuietMs: 1000,
      env: { FIXTURE_COUNT_FILE: join(dir, 'count'), FIXTURE_FAIL_UNTIL: '2' },
    });
    const queued = outcome(p.run('auth:u:h:secret'));
    const closing = p.close({ drain: true });
    assert.equal(await within(queued), true);
    await within(closing);
    assert.deepEqual(p.pids(), []);
  });

  // --- ExtauthEngine ---------------------------------------------------------------------------

  test('the engine\'s limits: its defaults, the configured ones, and the frame limit of the protocol', async (t) => {
    const e1 = fixtureEngine('fast.mjs', { startQuietMs: 0 }).engine;
    t.after(() => e1.close({ force: true }));
    assert.deepEqual(e1.limits, { maxFieldBytes: 1023, maxQueryBytes: 4096 });
    assert.ok(Object.isFrozen(e1.limits));
    assert.equal(e1.capacity, 100);
    const e2 = fixtureEngine('fast.mjs', { startQuietMs: 0, limits: { maxFieldBytes: 10, maxQueryBytes: 100 } }).engine;
    t.after(() => e2.close({ force: true }));
    assert.deepEqual(e2.limits, { maxFieldBytes: 10, maxQueryBytes: 100 });
    assert.equal(await outcome(e2.auth('a'.repeat(11), 'h', 'secret')), 'ERR_EXTAUTH_INVALID_INPUT');
    assert.equal(await e2.auth('a'.repeat(10), 'h', 'secret'), true);
    const e3 = fixtureEngine('fast.mjs', { startQuietMs: 0, protocol: 'ejabberd', limits: { maxQueryBytes: 70_000 } }).engine;
    t.after(() => e3.close({ force: true }));
    assert.equal(e3.limits.maxQueryBytes, 65535);
  });

  test('listeners see each answered query: command, outcome and time', async (t) => {
    const { engine } = fixtureEngine('scripted.mjs', { startQuietMs: 0 });
    t.after(() => engine.close({ force: true }));
    const seen: [string, string, number][] = [];
    const also: string[] = [];
    engine.onQuery((c, o, ms) => seen.push([c, o, ms]));
    engine.onQuery((c, o) => also.push(`${c}:${o}`));
    assert.equal(await engine.auth('u', 'h', 'secret'), true);
    assert.equal(await engine.isuser('nobody', 'h'), false);
    assert.equal(await outcome(engine.setpass('u', 'h', 'twice')), 'ERR_EXTAUTH_BAD_REPLY');
    assert.deepEqual(seen.map(([c, o]) => `${c}:${o}`), ['auth:yes', 'isuser:no', 'setpass:ERR_EXTAUTH_BAD_REPLY']);
    assert.deepEqual(also, ['auth:yes', 'isuser:no', 'setpass:ERR_EXTAUTH_BAD_REPLY']);
    for (const [, , ms] of seen) assert.ok(ms > 0 && ms < 60_000, `ms ${ms}`);
    assert.equal(await engine.auth('u', 'h', ''), false, 'an empty password: no, unasked');
    assert.equal(seen.length, 3);
  });

  test('the positive cache: yes of auth and isuser only; every account change ends it, even one in flight', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-rec-'));
    const recordFile = join(dir, 'q.hex');
    const hold = holdEnv();
    const { engine } = fixtureEngine('scripted.mjs', { startQuietMs: 0, size: 2, cacheTtlMs: 60_000, env: { RECORD_FILE: recordFile, FIXTURE_RELEASE: hold.FIXTURE_RELEASE } });
    t.after(() => engine.close({ force: true }));
    const sent = () => (existsSync(recordFile) ? readFileSync(recordFile, 'utf8').trim().split('\n').length : 0);
    assert.equal(await engine.isuser('alice', 'h'), true);
    assert.equal(await engine.isuser('alice', 'h'), true);
    assert.equal(await engine.auth('alice', 'h', 'secret'), true);
    assert.equal(await engine.auth('alice', 'h', 'secret'), true);
    assert.equal(sent(), 2, 'the second of each answered from the cache');
    assert.equal(engine.stats().cached, 2);
    assert.equal(await engine.tryregister('alice', 'h', 'secret'), true);
    assert.equal(await engine.tryregister('alice', 'h', 'secret'), true);
    assert.equal(sent(), 4, 'only auth and isuser are cached');
    for (const change of [() => engine.removeuser('alice', 'h'), () => engine.removeuser3('alice', 'h', 'x'), () => engine.setpass('alice', 'h', 'x')]) {
      assert.equal(await engine.auth('alice', 'h', 'secret'), true);
      assert.equal(engine.stats().cached >= 1, true);
      await change();
      assert.equal(engine.stats().cached, 0);
    }
    // A yes cached while a password change is in flight is dropped when the change answers.
    const change = engine.setpass('alice', 'h', 'hold');
    assert.ok(await waitFor(() => engine.stats().busy === 1));
    assert.equal(await engine.auth('alice', 'h', 'secret'), true);
    assert.equal(engine.stats().cached, 1);
    hold.release();
    assert.equal(await within(change), true);
    assert.equal(engine.stats().cached, 0);
  });

  test('the engine passes through stats, pids, serving times, readiness and close', async (t) => {
    const { engine } = fixtureEngine('scripted.mjs', { startQuietMs: 0, size: 2 });
    t.after(() => engine.close({ force: true }));
    assert.equal(await within(engine.whenReady({ timeoutMs: 20_000, settleMs: 0 })), true);
    assert.equal(engine.pids().length, 2);
    assert.equal(engine.servingSince().length, 2);
    assert.deepEqual({ ...engine.stats() }, { size: 2, live: 2, idle: 2, busy: 0, queued: 0, restarts: 0, timeouts: 0, badReplies: 0, exits: 0, failures: 0, cached: 0 });
    const pids = engine.pids();
    const held = outcome(engine.auth('u', 'h', 'hold'));
    assert.ok(await waitFor(() => engine.stats().busy === 1));
    await within(engine.close({ force: true }));
    assert.equal(await held, 'ERR_EXTAUTH_CLOSED');
    for (const pid of pids) assert.ok(isGone(pid));
    assert.equal(await outcome(engine.auth('u', 'h', 'secret')), 'ERR_EXTAUTH_CLOSED');
  });
});
