/**
 * The engine (engine.ts) on real script processes: its query limits, the listeners of
 * answered queries, the positive cache and its invalidation by account changes, and the
 * pass-through of the pool's state.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fixtureEngine, isGone, outcome, waitFor } from '../helpers/engine.js';
import { holdEnv, within } from '../helpers/scripted.js';
import { MemoryLogger } from '../helpers/log.js';

// The tests wait on child processes far more than they compute: they run side by side.
describe('engine', { concurrency: true }, () => {
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
    const t0 = performance.now();
    assert.equal(await engine.auth('u', 'h', 'secret'), true);
    assert.equal(await engine.isuser('nobody', 'h'), false);
    assert.equal(await outcome(engine.setpass('u', 'h', 'twice')), 'ERR_EXTAUTH_BAD_REPLY');
    assert.equal(await engine.setpass('u', 'h', 'secret'), true, 'an account change with listeners and no cache');
    const elapsed = performance.now() - t0;
    assert.deepEqual(seen.map(([c, o]) => `${c}:${o}`), ['auth:yes', 'isuser:no', 'setpass:ERR_EXTAUTH_BAD_REPLY', 'setpass:yes']);
    assert.deepEqual(also, ['auth:yes', 'isuser:no', 'setpass:ERR_EXTAUTH_BAD_REPLY', 'setpass:yes']);
    // Each the time of its own query: within the time of them all.
    for (const [, , ms] of seen) assert.ok(ms > 0 && ms <= elapsed, `ms ${ms} of ${elapsed}`);
    assert.equal(await engine.auth('u', 'h', ''), false, 'an empty password: no, unasked');
    assert.equal(seen.length, 4);
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
    // A password change ends the cached yes as it is sent (a login meanwhile asks the script),
    // and a yes cached while it is in flight when it answers.
    assert.equal(await engine.auth('alice', 'h', 'secret'), true);
    assert.equal(engine.stats().cached, 1);
    const before = sent();
    const change = engine.setpass('alice', 'h', 'hold');
    assert.equal(engine.stats().cached, 0);
    assert.ok(await waitFor(() => engine.stats().busy === 1));
    assert.equal(await engine.auth('alice', 'h', 'secret'), true);
    // Both reached a script (each records a query when it reads it, so wait for the records).
    assert.ok(await waitFor(() => sent() === before + 2, 20_000), `sent ${sent()} of ${before + 2}`);
    assert.equal(engine.stats().cached, 1);
    hold.release();
    assert.equal(await within(change), true);
    assert.equal(engine.stats().cached, 0);
  });

  test('with a cache or listeners, a query keeps its deadline, its signal and the redaction of its password', async (t) => {
    const log = new MemoryLogger();
    const dir = mkdtempSync(join(tmpdir(), 'gh-rec-'));
    const recordFile = join(dir, 'q.hex');
    const { engine } = fixtureEngine('scripted.mjs', { startQuietMs: 0, cacheTtlMs: 60_000, logger: log, env: { RECORD_FILE: recordFile } });
    t.after(() => engine.close({ force: true }));
    engine.onQuery(() => {});
    assert.equal(await engine.isuser('u', 'h'), true, 'the process is up and idle');
    assert.equal(await outcome(engine.auth('u', 'h', 'secret', { deadline: performance.now() - 1 })), 'ERR_EXTAUTH_DEADLINE');
    assert.equal(await outcome(engine.auth('u', 'h', 'secret', { signal: AbortSignal.abort() })), 'ERR_EXTAUTH_ABORTED');
    assert.equal(await engine.auth('u', 'h', 'history'), false, 'the script writes the queries it saw on stderr');
    const received = readFileSync(recordFile, 'utf8').trim().split('\n').map((l) => Buffer.from(l, 'hex').toString());
    assert.deepEqual(received, ['isuser:u:h', 'auth:u:h:history'], 'neither refused query was sent');
    const stderr = await waitFor(() => log.entries.some((e) => JSON.stringify(e).includes('seen: ')));
    assert.ok(stderr, 'the script\'s stderr was logged (positive control)');
    assert.ok(!JSON.stringify(log.entries).includes('history'), 'the password of the query is redacted from the log');
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
