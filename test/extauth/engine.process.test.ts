/**
 * One auth script process (process.ts) against a real script (test/fixtures/scripted.mjs does
 * what each query's password says): it answers twice, closes its stdout, dies mid-query,
 * leaves a grandchild behind, ignores EOF or SIGTERM, talks before it is asked. The query
 * fails, the process is retired and reaped, and never a yes the script did not give.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { ExtauthError } from '../../src/extauth/errors.js';
import { Job } from '../../src/extauth/job.js';
import { AuthProcess, type ProcessEnd, type ProcessOptions } from '../../src/extauth/process.js';
import { generic } from '../../src/extauth/wire/protocol.js';
import { isGone, waitFor } from '../helpers/engine.js';
import { MemoryLogger } from '../helpers/log.js';
import { code, holdEnv, SCRIPT, ups, within } from '../helpers/scripted.js';

// The tests wait on child processes far more than they compute: they run side by side.
describe('auth process', { concurrency: true }, () => {
  interface Watched {
    proc: AuthProcess;
    release(): void;
    /** The file whose existence releases the script's held answers. */
    releaseFile: string;
    log: MemoryLogger;
    idle: number;
    gone: ProcessEnd[];
    closed: number;
  }

  function startProcess(t: TestContext, options: Partial<ProcessOptions> & { env?: NodeJS.ProcessEnv } = {}): Watched {
    const log = new MemoryLogger();
    const { FIXTURE_RELEASE, release } = holdEnv();
    const w = { log, release, releaseFile: FIXTURE_RELEASE, idle: 0, gone: [], closed: 0 } as unknown as Watched;
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
    // A reply in two writes: the first byte is in the pipe before the test lets one more turn
    // of the event loop (and so one poll of I/O) pass, so the process reads it alone, whatever
    // the machine's speed; the rest is written only once released.
    const split = query('split');
    w.proc.execute(split.job);
    assert.ok(await waitFor(() => existsSync(`${w.releaseFile}.half`)), 'the first part is written');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(w.proc.state, 'busy', 'the first part alone answers nothing');
    w.release();
    assert.equal(await within(split.result), true, 'a reply in two writes is assembled');
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

  test("a query's timeout counts from when it was sent, not from the query before it", async (t) => {
    // The one timer of the process is re-armed for each query. Query 1 is answered at once;
    // query 2 is sent 9 s later and released 4 s after that: well within its 12 s (8 s to spare
    // on a loaded machine), though 13 s after query 1 was sent. A timer left running from
    // query 1 would end query 2 3 s in, before the release.
    const w = startProcess(t, { timeoutMs: 12_000 });
    await ready(w);
    assert.equal(await run(w, 'secret'), true);
    await new Promise((resolve) => setTimeout(resolve, 9000));
    const q = query('hold');
    w.proc.execute(q.job);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    w.release();
    assert.equal(await within(q.result), true);
    assert.deepEqual(w.gone, []);
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
    assert.equal(w.proc.state, 'dead', 'a reaped process stays dead');
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
    assert.equal(w.proc.state, 'dead');
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
    assert.equal(w.proc.state, 'dead');
    assert.equal(w.gone.length, 1);
  });

  test('a process retired during its quiet period never becomes ready, even while it lingers', async (t) => {
    // It talks before any query and ignores SIGTERM: retired, but alive until the kill grace.
    // A shell, so that it talks well within the quiet period.
    const lingering = startProcess(t, {
      argv: ['/bin/sh', '-c', "trap '' TERM; echo 1; exec sleep 300"],
      startQuietMs: 1000,
      killGraceMs: 120_000,
    });
    assert.ok(await waitFor(() => lingering.gone.length === 1));
    assert.equal(lingering.gone[0]!.code, 'ERR_EXTAUTH_BAD_REPLY');
    // A process started now with the same quiet period is ready after the first one's ended.
    const clock = startProcess(t, { startQuietMs: 1000 });
    await ready(clock);
    assert.equal(lingering.idle, 0);
    assert.equal(lingering.proc.state, 'stopping');
    assert.ok(!isGone(lingering.proc.pid!), 'still there (positive control: it did linger)');
  });

  test('a script that closes its stdout, before its first query or after an answer, is ended', async (t) => {
    const atStart = startProcess(t, { startQuietMs: 60_000, env: { FIXTURE_CLOSE_AT_START: '1' } });
    const afterAnswer = startProcess(t);
    await ready(afterAnswer);
    assert.equal(await run(afterAnswer, 'answer-close'), false);
    for (const w of [atStart, afterAnswer]) {
      await within(w.proc.closedPromise);
      assert.deepEqual(w.gone.map((g) => [g.code, g.detail]), [['ERR_EXTAUTH_EXITED', 'the auth script closed its stdout']]);
      assert.ok(isGone(w.proc.pid!));
    }
    assert.equal(atStart.idle, 0);
  });

  for (const stubborn of ['0', '1']) {
    test(`a script that exits normally leaves nothing behind: what it forked is killed${stubborn === '1' ? ', even if it ignores SIGTERM' : ''}`, async (t) => {
      const pidFile = join(mkdtempSync(join(tmpdir(), 'gh-pid-')), 'grandchild');
      // Whatever fails below, a grandchild the script started does not outlive the test.
      t.after(() => {
        const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
        if (pid > 0 && !isGone(pid)) process.kill(pid, 'SIGKILL');
      });
      const w = startProcess(t, { env: { FIXTURE_PID_FILE: pidFile, FIXTURE_STUBBORN_GRANDCHILD: stubborn } });
      await ready(w);
      assert.equal(code(await run(w, 'fork-detach-exit')), 'ERR_EXTAUTH_EXITED');
      await within(w.proc.closedPromise);
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      assert.ok(grandchild > 0);
      assert.ok(await waitFor(() => isGone(grandchild), 30_000), 'no orphan');
    });
  }

  test('a script that closed its stdin: the query written to it (EPIPE) fails, nothing crashes', async (t) => {
    // A program that closes its stdin, says it is up, and stays alive without reading.
    const w = startProcess(t, { timeoutMs: 1000, argv: ['sh', '-c', 'exec 0<&-; echo up >&2; exec sleep 300'] });
    await ready(w);
    assert.equal(code(await run(w, 'secret')), 'ERR_EXTAUTH_TIMEOUT');
    await within(w.proc.closedPromise);
    assert.ok(isGone(w.proc.pid!));
  });

  test('shutdown of a script that ignores EOF: SIGTERM after the EOF grace', async (t) => {
    const w = startProcess(t, { killGraceMs: 120_000, env: { FIXTURE_IGNORE_EOF: '1' } });
    await ready(w);
    await within(w.proc.shutdown(100), 30_000, 'SIGTERM, long before the kill grace');
    assert.ok(isGone(w.proc.pid!));
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
});
