/**
 * A caller's deadline (RunOptions.deadline): the query fails with ERR_EXTAUTH_DEADLINE when it
 * passes, queued or in flight, and a process still busy with the query is replaced, so that
 * its answer can never arrive after the caller stopped waiting.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureEngine, isGone, outcome, waitFor } from '../helpers/engine.js';

test('a query still running at its deadline fails, and the process busy with it is replaced', async (t) => {
  const { engine, received } = fixtureEngine('slow.mjs', { env: { FIXTURE_DELAY_MS: '0' }, timeoutMs: 30_000, record: true });
  t.after(() => engine.close());
  assert.equal(await engine.auth('a', 'h', 'delay-1'), true);
  const [before] = engine.pids();
  assert.ok(before !== undefined);
  // Long enough for the query to be sent on a loaded machine; the script takes 20 s.
  const deadline = performance.now() + 2000;
  // The script would answer yes after 20 s; the engine's own timeout is 30 s.
  const late = await engine.auth('a', 'h', 'delay-20000', { deadline }).catch((err: unknown) => err);
  assert.equal((late as { code?: string }).code, 'ERR_EXTAUTH_DEADLINE');
  assert.equal((late as { sent?: boolean }).sent, true, 'the script had the query: it may have acted on it');
  assert.ok(await waitFor(() => isGone(before)), 'the busy process was killed');
  assert.equal(await engine.auth('b', 'h', 'secret'), true, 'a new process answers');
  assert.equal(await engine.auth('b', 'h', 'wrong'), false);
  assert.equal(received().length, 4, 'the abandoned query had reached the script (positive control)');
  assert.equal(engine.stats().timeouts, 1);
});

test('a queued query fails at its deadline without reaching the script; the one running is left alone', async (t) => {
  const { engine, received } = fixtureEngine('slow.mjs', { env: { FIXTURE_DELAY_MS: '0' }, timeoutMs: 30_000, record: true });
  t.after(() => engine.close());
  // Running far longer than the queued query's deadline, even on a loaded machine.
  const running = engine.auth('a', 'h', 'delay-3000');
  const queued = engine.auth('b', 'h', 'secret', { deadline: performance.now() + 100 }).catch((err: unknown) => err);
  assert.equal(((await queued) as { code?: string }).code, 'ERR_EXTAUTH_DEADLINE');
  assert.equal(((await queued) as { sent?: boolean }).sent, false, 'never sent');
  assert.equal(await running, true, 'the running query without a deadline still gets its answer');
  assert.deepEqual(received().map((b) => b.toString()), ['auth:a:h:delay-3000']);
  assert.deepEqual(engine.stats().timeouts, 0);
});

test('a deadline already past fails at once, even with a process idle, and a query answered in time is not disturbed', async (t) => {
  const { engine, received } = fixtureEngine('fast.mjs', { record: true });
  t.after(() => engine.close());
  assert.equal(await outcome(engine.auth('a', 'h', 'secret', { deadline: performance.now() - 1 })), 'ERR_EXTAUTH_DEADLINE');
  assert.equal(await engine.auth('a', 'h', 'secret', { deadline: performance.now() + 60_000 }), true);
  const [pid] = engine.pids();
  // The process is idle now: a query whose deadline has passed must still not be handed to it.
  const past = await engine.auth('a', 'h', 'late', { deadline: performance.now() - 1 }).catch((err: unknown) => err);
  assert.equal((past as { code?: string }).code, 'ERR_EXTAUTH_DEADLINE');
  assert.equal((past as { sent?: boolean }).sent, false, 'never sent');
  assert.equal(await engine.auth('a', 'h', 'wrong', { deadline: performance.now() + 60_000 }), false);
  assert.deepEqual(engine.pids(), [pid], 'no process was replaced');
  assert.deepEqual(received().map((b) => b.toString()), ['auth:a:h:secret', 'auth:a:h:wrong']);
  assert.equal(engine.stats().timeouts, 0);
});
