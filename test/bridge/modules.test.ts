/**
 * The bridge's modules driven directly, in one process: the pipelined bridge (bridge.ts) and the
 * lockstep one (lockstep.ts) on real streams in front of real Accounts and real auth scripts,
 * the liveness clock (liveness.ts), the extauth socket (socket-server.ts) on a real Unix socket,
 * and the terminal take-over (terminal.ts) on a real pty. The end-to-end tests (bridge.test.ts,
 * lockstep.test.ts) run the same code behind the CLI; these are the quick ones.
 *
 * The point throughout: an answer is written only for the query it belongs to, in order, and
 * never after the caller stopped waiting; anything that is not a clear yes is "no".
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, createWriteStream, mkdtempSync, openSync, readFileSync, existsSync, writeSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { mock, test, type TestContext } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { EXTAUTH_REPLIES, runBridge, servedQueryLimits } from '../../src/bridge/bridge.js';
import { arrivedNoEarlierThan, holdLivenessClock, TICK_MS } from '../../src/bridge/liveness.js';
import { lockstepMargin, runLockstepBridge, type LockstepStats } from '../../src/bridge/lockstep.js';
import { ExtauthSocketServer } from '../../src/bridge/socket-server.js';
import { parseConfigText } from '../../src/config/load.js';
import { DEFAULT_QUERY_LIMITS, type Query } from '../../src/extauth/query.js';
import { encodeFrame16 } from '../../src/extauth/wire/frame16.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture } from '../helpers/paths.js';

/**
 * Every test here bounds itself (a hang fails the test instead of stalling the run). In a
 * mutation run (scripts/mutation-test.mjs sets GATEHOUSE_TEST_FAIL_FAST), after one fails the
 * rest of the file is skipped: with the bridge broken, each of them would only wait out its
 * bounds to fail the same way. A normal run reports every failure.
 */
const FAIL_FAST = process.env['GATEHOUSE_TEST_FAIL_FAST'] === '1';
let failed = false;
function check(name: string, fn: (t: TestContext) => unknown): void {
  test(name, { timeout: 60_000 }, async (t) => {
    if (failed) return t.skip('an earlier test of this file failed');
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no result within 30 s')), 30_000);
    });
    try {
      await Promise.race([fn(t), bound]);
    } catch (err) {
      failed = FAIL_FAST;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  });
}

const frame = (s: string): Buffer => encodeFrame16(Buffer.from(s));
const YES16 = Buffer.from([0, 2, 0, 1]);
const NO16 = Buffer.from([0, 2, 0, 0]);

/** TOML for a fixture script, with the environment it needs (set through env(1), explicitly). */
function script(name: string, env: Record<string, string> = {}): string {
  const argv = ['/usr/bin/env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, fixture(name)];
  return `external_auth_command = [${argv.map((a) => JSON.stringify(a)).join(', ')}]`;
}

function accountsFor(t: TestContext, toml: string): Accounts {
  const accounts = new Accounts(parseConfigText(toml));
  t.after(() => accounts.close());
  return accounts;
}

/** A file the fixture scripts append each query they receive to (hex, one a line). */
function recordFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'gh-bridge-')), 'rec.hex');
}
function recorded(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((h) => Buffer.from(h, 'hex').toString());
}

/** Waits (bounded, generously: the machine may be loaded) until `check` holds. */
async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Everything a stream writes, as it comes. */
function collect(stream: PassThrough): { text(): string; bytes(): Buffer } {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { text: () => Buffer.concat(chunks).toString(), bytes: () => Buffer.concat(chunks) };
}

/** The writing end of a pipe whose reader has gone, as the other side's after it exited. */
function brokenPipe(): number {
  const fifo = join(mkdtempSync(join(tmpdir(), 'gh-fifo-')), 'p');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(fifo, constants.O_WRONLY);
  closeSync(reader);
  return writer;
}

/** The liveness clock stands (no conversation holds it): it does not move over five ticks. */
async function clockStands(): Promise<boolean> {
  const then = arrivedNoEarlierThan();
  await new Promise((r) => setTimeout(r, 5 * TICK_MS));
  return arrivedNoEarlierThan() === then;
}

/** A query the fixture scripts answer yes, asked of the Accounts directly. */
const ISUSER_A: Query = { command: 'isuser', user: 'a', host: 'localhost' };

const warnings = (log: MemoryLogger): string[] => log.entries.filter((e) => e.level === 'warn').map((e) => e.msg ?? '');

// ---------------------------------------------------------------------------------------------
// Values every answer depends on
// ---------------------------------------------------------------------------------------------

check('the extauth replies: every failure class is a failure', () => {
  // The protocol has no "try later" (ejabberd extauth, Prosody mod_auth_external).
  assert.deepEqual(EXTAUTH_REPLIES, { wrong: false, invalid: false, throttled: false, unsupported: false, temporary: false, internal: false });
});

check('lockstepMargin: a quarter of the caller timeout, at most one second', () => {
  assert.equal(lockstepMargin(400), 100);
  assert.equal(lockstepMargin(2000), 500);
  assert.equal(lockstepMargin(4000), 1000);
  assert.equal(lockstepMargin(30_000), 1000);
});

check('servedQueryLimits: a field as the engine allows it, a query as the most generous engine allows it', async (t) => {
  const accounts = accountsFor(
    t,
    `[hosts."a.example"]\n${script('fast.mjs')}\nexternal_auth_max_query_bytes = 300\n[hosts."b.example"]\n${script('fast.mjs')}\nexternal_auth_max_query_bytes = 2000\n[hosts."c.example"]\n${script('fast.mjs')}\nexternal_auth_max_query_bytes = 700`,
  );
  assert.deepEqual(servedQueryLimits(accounts), { maxFieldBytes: DEFAULT_QUERY_LIMITS.maxFieldBytes, maxQueryBytes: 2000 });
});

// ---------------------------------------------------------------------------------------------
// liveness.ts
// ---------------------------------------------------------------------------------------------

/** Holds this process still: no timer, no I/O callback runs (as when it is not scheduled). */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

check('liveness: input read right after a stall is dated from before it, then the clock catches up', async () => {
  assert.equal(TICK_MS, 20);
  const release = holdLivenessClock();
  try {
    const before = performance.now();
    // Fresh: the bound starts at the hold, never before.
    assert.ok(arrivedNoEarlierThan() >= before - 1, 'the clock starts now');
    await until(() => arrivedNoEarlierThan() > before, 'the clock ticks');
    const stallStart = performance.now();
    stall(300);
    const stallEnd = performance.now();
    // Nothing ran during the stall: input read now may have arrived at its start.
    const bound = arrivedNoEarlierThan();
    assert.ok(bound <= stallStart, `bound ${bound} is before the stall (${stallStart})`);
    assert.ok(bound > stallStart - 300, 'and not far before it');
    // Once the clock has run twice after the stall, it dates input after it again.
    await until(() => arrivedNoEarlierThan() >= stallEnd, 'the clock catches up');
    assert.ok(arrivedNoEarlierThan() <= performance.now());
  } finally {
    release();
  }
});

check('liveness: the clock runs while anyone holds it; a release twice is one release', async () => {
  const a = holdLivenessClock();
  const b = holdLivenessClock();
  try {
    a();
    a();
    const mark = performance.now();
    await until(() => arrivedNoEarlierThan() > mark, 'the clock still ticks for b');
  } finally {
    b();
  }
  // All released: the clock stands. Started again later, it starts from then, not from before.
  await new Promise((r) => setTimeout(r, 5 * TICK_MS));
  const stopped = arrivedNoEarlierThan();
  await new Promise((r) => setTimeout(r, 5 * TICK_MS));
  assert.equal(arrivedNoEarlierThan(), stopped, 'no tick without a holder');
  const before = performance.now();
  const c = holdLivenessClock();
  try {
    assert.ok(arrivedNoEarlierThan() >= before, 'restarted from now');
  } finally {
    c();
  }
});

check('liveness: the clock never keeps a process alive', async (t) => {
  const mod = fileURLToPath(new URL('../../src/bridge/liveness.js', import.meta.url));
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import { holdLivenessClock } from ${JSON.stringify(mod)}; holdLivenessClock();`], {
    stdio: 'ignore',
  });
  t.after(() => child.kill('SIGKILL'));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  assert.deepEqual([code, signal], [0, null], 'the process exited by itself');
});

// ---------------------------------------------------------------------------------------------
// bridge.ts: the pipelined bridge
// ---------------------------------------------------------------------------------------------

check('pipelined: answers are written in the order of the queries, whatever order the scripts answer in', async (t) => {
  const accounts = accountsFor(t, `${script('slow.mjs')}\nexternal_auth_processes = 4`);
  const input = new PassThrough();
  const output = new PassThrough();
  const out = collect(output);
  const run = runBridge({ input, output, protocol: 'generic', accounts, limits: servedQueryLimits(accounts) });
  // The first query is answered last by its script; every answer waits for it.
  input.write('auth:a:localhost:delay-400\nauth:b:localhost:wrong\nauth:c:localhost:delay-50\nisuser:nobody:localhost\nauth:d:localhost:secret\n');
  await until(() => out.text().length >= 10, 'five answers');
  assert.equal(out.text(), '1\n0\n1\n0\n1\n');
  input.end();
  assert.deepEqual(await run, { queries: 5, yes: 3, no: 2, errors: 0 });
});

check('pipelined, ejabberd framing: each frame gets its own 16-bit reply, in order', async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  const input = new PassThrough();
  const output = new PassThrough();
  const out = collect(output);
  const run = runBridge({ input, output, protocol: 'ejabberd', accounts, limits: servedQueryLimits(accounts) });
  input.write(Buffer.concat([frame('auth:alice:localhost:secret'), frame('auth:alice:localhost:nope'), frame('isuser:bob:localhost')]));
  await until(() => out.bytes().length >= 12, 'three replies');
  assert.deepEqual(out.bytes(), Buffer.concat([YES16, NO16, YES16]));
  input.end();
  assert.deepEqual(await run, { queries: 3, yes: 2, no: 1, errors: 0 });
});

check('pipelined: every failure class is answered "no" and logged with its class, without the password', async (t) => {
  // Each line below makes Accounts.query fail with another class (accounts/outcome.ts); a
  // right password is used wherever the script would otherwise say yes, so a class answered
  // as a success shows as a "1".
  const accounts = accountsFor(
    t,
    `auth_failure_limit_user = 1
[hosts."lying.example"]
${script('lying.mjs')}
[hosts."localhost"]
${script('fast.mjs')}
external_auth_max_query_bytes = 100
external_auth_commands = ["auth", "isuser"]`,
  );
  const log = new MemoryLogger();
  const input = new PassThrough();
  const output = new PassThrough();
  const out = collect(output);
  const limits = servedQueryLimits(accounts);
  const run = runBridge({ input, output, protocol: 'generic', accounts, limits, logger: log });
  const ask = async (q: string, n: number): Promise<string> => {
    input.write(`${q}\n`);
    await until(() => out.text().length >= 2 * n, `answer ${n}`);
    return out.text().slice(2 * (n - 1), 2 * n);
  };
  // Positive control: the right password, answered yes.
  assert.equal(await ask('auth:alice:localhost:secret', 1), '1\n');
  // temporary: the script breaks the protocol (two replies to one query).
  assert.equal(await ask('auth:alice:lying.example:secret', 2), '0\n');
  // unsupported: a command the host's script does not implement.
  assert.equal(await ask('setpass:alice:localhost:secret', 3), '0\n');
  // unsupported: a host with no script at all.
  assert.equal(await ask('isuser:alice:nohost.example', 4), '0\n');
  // invalid: within the bridge's bound, past the host engine's own.
  assert.equal(await ask(`auth:alice:localhost:secret${'-'.repeat(120)}`, 5), '0\n');
  // throttled: past the user's failure limit, the right password too. The delay after the last
  // failure counts from Date.now(), which stands still here.
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  assert.equal(await ask('auth:carol:localhost:wrong', 6), '0\n');
  assert.equal(await ask('auth:carol:localhost:secret', 7), '0\n');
  input.end();
  assert.deepEqual(await run, { queries: 7, yes: 1, no: 6, errors: 5 });

  const answered = log.entries.filter((e) => e.msg?.startsWith('query answered no: '));
  assert.deepEqual(
    answered.map((e) => [e.obj['class'], e.obj['command'], e.obj['host']]),
    [
      ['temporary', 'auth', 'lying.example'],
      ['unsupported', 'setpass', 'localhost'],
      ['unsupported', 'isuser', 'nohost.example'],
      ['invalid', 'auth', 'localhost'],
      ['throttled', 'auth', 'localhost'],
    ],
  );
  assert.equal(answered[3]!.obj['code'], 'ERR_EXTAUTH_INVALID_INPUT');
  assert.equal(answered[4]!.obj['code'], 'ERR_AUTH_THROTTLED');
  assert.equal(answered[4]!.obj['user'], 'carol');
  assert.match(answered[1]!.msg!, /does not implement setpass/);
  assert.ok(answered.every((e) => e.level === 'warn'));
  assert.ok(!log.text().includes('secret'), 'no password in the log');
});

check('pipelined: malformed, empty and oversized queries are "no", logged, and never reach the script', async (t) => {
  const rec = recordFile();
  const accounts = accountsFor(t, script('fast.mjs', { RECORD_FILE: rec }));
  const log = new MemoryLogger();
  const input = new PassThrough();
  const output = new PassThrough();
  const out = collect(output);
  const run = runBridge({ input, output, protocol: 'generic', accounts, limits: servedQueryLimits(accounts), logger: log });
  input.write(['frobnicate:alice:localhost', 'auth:alice', '', `auth:alice:localhost:${'x'.repeat(5000)}`, 'isuser:alice:localhost', ''].join('\n'));
  await until(() => out.text().length >= 10, 'five answers');
  assert.equal(out.text(), '0\n0\n0\n0\n1\n');
  input.end();
  assert.deepEqual(await run, { queries: 5, yes: 1, no: 4, errors: 4 });
  assert.deepEqual(recorded(rec), ['isuser:alice:localhost']);
  const w = log.entries.filter((e) => e.level === 'warn');
  assert.deepEqual(
    w.map((e) => e.msg!.replace(/: .*/, '')),
    ['malformed query answered no', 'malformed query answered no', 'malformed query answered no', 'query too long or empty; answered no'],
  );
  assert.equal(w[0]!.obj['code'], 'ERR_EXTAUTH_UNSUPPORTED');
  assert.equal(w[0]!.obj['field'], 'command');
  assert.equal(w[1]!.obj['code'], 'ERR_EXTAUTH_INVALID_INPUT');
  assert.ok(w[0]!.msg!.length > 'malformed query answered no: '.length, 'the reason is given');
});

check('pipelined: a read holding only refused queries leaves the bridge reading', async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  const input = new PassThrough();
  const output = new PassThrough();
  const out = collect(output);
  const run = runBridge({ input, output, protocol: 'generic', accounts, limits: servedQueryLimits(accounts) });
  input.write('frobnicate:alice:localhost\n');
  await until(() => out.text().length >= 2, 'the refusal');
  assert.ok(!input.isPaused(), 'nothing waits: input is not paused');
  input.write('isuser:alice:localhost\n');
  await until(() => out.text().length >= 4, 'the next answer');
  input.end();
  await run;
  assert.equal(out.text(), '0\n1\n');
});

check('pipelined: a flood in one write waits in the bridge, in order, instead of overflowing the queue', async (t) => {
  const accounts = accountsFor(t, `${script('fast.mjs')}\nexternal_auth_processes = 2\nexternal_auth_queue_limit = 10`);
  const log = new MemoryLogger();
  const input = new PassThrough();
  const output = new PassThrough();
  const out = collect(output);
  const run = runBridge({ input, output, protocol: 'generic', accounts, limits: servedQueryLimits(accounts), maxInFlight: () => accounts.capacity, logger: log });
  // Alternating answers over more than a thousand queries: every reply lands on its own query
  // (the replies already written are dropped from memory as they go).
  const n = 3000;
  const want = 'isuser:alice:localhost\nisuser:nobody:localhost\n';
  // The 'resume' of the bridge starting to read is emitted on the next tick: let it pass.
  await new Promise((resolve) => setImmediate(resolve));
  input.write(want.repeat(n / 2));
  // The chunk holds more than the pool takes: input stops until the backlog is gone, so what
  // a peer can make the bridge hold is one chunk, however fast it writes.
  assert.ok(input.isPaused(), 'input paused while queries wait');
  const answeredAtResume: number[] = [];
  input.on('resume', () => answeredAtResume.push(out.text().length / 2));
  await until(() => out.text().length >= 2 * n, 'every answer');
  assert.equal(out.text(), '1\n0\n'.repeat(n / 2));
  // And it reads again: a query after the flood is answered.
  await until(() => !input.isPaused(), 'input resumed');
  // Resumed once, when the last waiting query went to the pool: by then at most the pool's
  // capacity of them are unanswered (far fewer than half).
  assert.equal(answeredAtResume.length, 1, 'input resumed once');
  assert.ok(answeredAtResume[0]! >= n / 2, `resumed after ${answeredAtResume[0]} of ${n} answers`);
  input.write('isuser:alice:localhost\n');
  await until(() => out.text().length >= 2 * n + 2, 'the answer after the flood');
  input.end();
  assert.deepEqual(await run, { queries: n + 1, yes: n / 2 + 1, no: n / 2, errors: 0 });
  assert.deepEqual(warnings(log), [], 'nothing refused');
});

for (const [name, maxInFlight] of [
  ['a number', 1],
  ['zero (taken as one)', 0],
  ['a function answering zero (taken as one)', () => 0],
] as const) {
  check(`pipelined: maxInFlight as ${name}: one query at a time, every one answered in order`, async (t) => {
    // One script process with a queue of one: a second query sent to it while it works
    // would be refused as overloaded (a "no" for a right password).
    const accounts = accountsFor(t, `${script('slow.mjs')}\nexternal_auth_processes = 1\nexternal_auth_queue_limit = 1`);
    const input = new PassThrough();
    const output = new PassThrough();
    const out = collect(output);
    const run = runBridge({ input, output, protocol: 'generic', accounts, limits: servedQueryLimits(accounts), maxInFlight });
    input.write('auth:a:localhost:delay-20\n'.repeat(6));
    await until(() => out.text().length >= 12, 'six answers');
    input.end();
    assert.equal(out.text(), '1\n'.repeat(6));
    assert.deepEqual(await run, { queries: 6, yes: 6, no: 0, errors: 0 });
  });
}

check('pipelined: maxInFlight as much as the pool holds (one process, no queue): never one more in flight, none refused', async (t) => {
  // The pool takes one query, with its one process: one more sent while it works is refused as
  // overloaded, a "no" for a right password. Each answer lets exactly one more in.
  const accounts = accountsFor(t, `${script('slow.mjs')}\nexternal_auth_processes = 1\nexternal_auth_queue_limit = 0`);
  await until(() => accounts.engines()[0]!.stats().idle === 1, 'the process ready');
  const log = new MemoryLogger();
  const input = new PassThrough();
  const output = new PassThrough();
  const out = collect(output);
  const run = runBridge({ input, output, protocol: 'generic', accounts, limits: servedQueryLimits(accounts), maxInFlight: () => accounts.capacity, logger: log });
  input.write('auth:a:localhost:delay-20\n'.repeat(8));
  await until(() => out.text().length >= 16, 'eight answers');
  input.end();
  assert.equal(out.text(), '1\n'.repeat(8));
  assert.deepEqual(await run, { queries: 8, yes: 8, no: 0, errors: 0 });
  assert.deepEqual(warnings(log), [], 'nothing refused');
});

check('pipelined: at the end of input, pending answers are written before it resolves; a partial query is ignored', async (t) => {
  const accounts = accountsFor(t, script('slow.mjs'));
  const log = new MemoryLogger();
  const input = new PassThrough();
  const output = new PassThrough();
  const out = collect(output);
  const run = runBridge({ input, output, protocol: 'generic', accounts, limits: servedQueryLimits(accounts), logger: log });
  input.end('auth:a:localhost:delay-200\nauth:b:localhost:sec');
  const stats = await run;
  assert.equal(out.text(), '1\n', 'the pending answer was written before the end');
  assert.deepEqual(stats, { queries: 1, yes: 1, no: 0, errors: 0 });
  const ended = log.entries.find((e) => e.msg === 'input ended inside a query; ignored');
  assert.equal(ended?.obj['bytes'], 'auth:b:localhost:sec'.length);
});

check('pipelined: a clean end with nothing pending logs nothing', async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  const log = new MemoryLogger();
  const input = new PassThrough();
  const output = new PassThrough();
  const run = runBridge({ input, output, protocol: 'generic', accounts, limits: servedQueryLimits(accounts), logger: log });
  input.end('isuser:a:localhost\n');
  assert.deepEqual(await run, { queries: 1, yes: 1, no: 0, errors: 0 });
  assert.deepEqual(warnings(log), []);
});

check('pipelined: an input error ends the bridge with what it has', async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  const log = new MemoryLogger();
  const input = new PassThrough();
  const output = new PassThrough();
  const out = collect(output);
  const run = runBridge({ input, output, protocol: 'generic', accounts, limits: servedQueryLimits(accounts), logger: log });
  input.write('isuser:a:localhost\n');
  await until(() => out.text().length >= 2, 'one answer');
  input.destroy(new Error('read failed'));
  assert.deepEqual(await run, { queries: 1, yes: 1, no: 0, errors: 0 });
  assert.ok(log.entries.some((e) => e.msg === 'bridge input error' && e.obj['err'] === 'read failed'));
});

check('pipelined: a failure of the bridge itself on a query rejects, is logged, and nothing more is written', async (t) => {
  const accounts = accountsFor(t, `${script('slow.mjs')}\nexternal_auth_processes = 1`);
  // A bug on the way to the engine: answering `bug`'s query throws at once.
  const buggy = {
    query: (q: Query): Promise<boolean> => {
      if (q.user === 'bug') throw new TypeError('a bug');
      return accounts.query(q);
    },
  };
  const log = new MemoryLogger();
  const input = new PassThrough();
  const output = new PassThrough();
  const out = collect(output);
  const run = runBridge({ input, output, protocol: 'generic', accounts: buggy, limits: servedQueryLimits(accounts), logger: log });
  input.write('auth:a:localhost:delay-100\nisuser:bug:localhost\n');
  await assert.rejects(run, /a bug/);
  assert.ok(
    log.entries.some((e) => e.level === 'error' && e.obj['err'] === 'a bug' && e.msg === 'bridge failed on a query; no more replies'),
    'logged as an error',
  );
  // The query before it is answered by the script afterwards, and one more arrives: neither
  // answer is written (the caller would take it for the answer to the failed query).
  input.write('isuser:a:localhost\n');
  assert.equal(await accounts.query(ISUSER_A), true, 'the one script process has answered what it was asked before');
  await new Promise((r) => setImmediate(r));
  assert.equal(out.text(), '');
});

check('pipelined: when the server goes away (EPIPE), the bridge rejects and stops reading', async (t) => {
  const accounts = accountsFor(t, `${script('slow.mjs')}\nexternal_auth_processes = 1`);
  // The server's end of the pipe is closed.
  const output = createWriteStream('', { fd: brokenPipe() });
  const input = new PassThrough();
  const run = runBridge({ input, output, protocol: 'generic', accounts, limits: servedQueryLimits(accounts) });
  // The first answer fails to go out; the second comes back from the script after that.
  input.write('auth:a:localhost:delay-10\nauth:b:localhost:delay-300\n');
  await assert.rejects(run, /EPIPE/);
  assert.ok(input.isPaused(), 'no more queries are read');
  // One script process answers in order: once this query is answered, the second one's answer
  // has come back to the bridge too. Input is still not read.
  assert.equal(await accounts.query(ISUSER_A), true);
  assert.ok(input.isPaused(), 'a later answer does not resume reading');
});

// ---------------------------------------------------------------------------------------------
// lockstep.ts: one answer per write of the caller, never late
// ---------------------------------------------------------------------------------------------

interface Lockstep {
  input: PassThrough;
  written: string[];
  events: string[];
  log: MemoryLogger;
  run: Promise<LockstepStats>;
}

function lockstep(accounts: Accounts, extra: Partial<Parameters<typeof runLockstepBridge>[0]> = {}): Lockstep {
  const input = new PassThrough();
  const written: string[] = [];
  const events: string[] = [];
  const log = new MemoryLogger();
  const run = runLockstepBridge({
    input,
    write: (b) => void written.push(b.toString('latin1')),
    protocol: 'generic',
    accounts,
    limits: servedQueryLimits(accounts),
    callerTimeoutMs: 60_000,
    logger: log,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { input, written, events, log, run };
}

check('lockstep: one answer per query, yes and no, a query split across reads answered once', async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  const l = lockstep(accounts);
  l.input.write('auth:alice:localhost:secret\n');
  await until(() => l.written.length === 1, 'first answer');
  l.input.write('auth:alice:localhost:wrong\n');
  await until(() => l.written.length === 2, 'second answer');
  // One write of the caller may reach the bridge in two reads: it is one query.
  l.input.write('isuser:bob:loc');
  l.input.write('alhost\n');
  await until(() => l.written.length === 3, 'third answer');
  l.input.end();
  const stats = await l.run;
  assert.deepEqual(l.written, ['1\n', '0\n', '1\n']);
  assert.deepEqual(stats, { queries: 3, yes: 2, no: 1, errors: 0, desyncs: 0, abandoned: 0, early: 0 });
  assert.deepEqual(l.events, []);
  assert.deepEqual(warnings(l.log), []);
  assert.ok(await clockStands(), 'the conversation let go of the liveness clock');
});

check('lockstep, ejabberd framing: one 16-bit reply per frame', async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  const l = lockstep(accounts, { protocol: 'ejabberd' });
  l.input.write(frame('auth:alice:localhost:secret'));
  await until(() => l.written.length === 1, 'answer');
  l.input.end();
  await l.run;
  assert.deepEqual(l.written, [YES16.toString('latin1')]);
});

check('lockstep: several queries in one write (a newline injected in a password) get one "no" and none reaches the script', async (t) => {
  const rec = recordFile();
  const accounts = accountsFor(t, script('fast.mjs', { RECORD_FILE: rec }));
  const l = lockstep(accounts);
  l.input.write('auth:mallory:localhost:x\nsetpass:alice:localhost:pwned\n');
  await until(() => l.written.length === 1, 'the one answer');
  // In step after it: the next query gets its own answer.
  l.input.write('auth:alice:localhost:secret\n');
  await until(() => l.written.length === 2, 'the next answer');
  l.input.end();
  const stats = await l.run;
  assert.deepEqual(l.written, ['0\n', '1\n']);
  assert.deepEqual(recorded(rec), ['auth:alice:localhost:secret']);
  assert.deepEqual(l.events, ['desync']);
  assert.deepEqual(stats, { queries: 3, yes: 1, no: 1, errors: 0, desyncs: 1, abandoned: 0, early: 0 });
  const refusal = l.log.entries.find((e) => e.msg?.startsWith('several queries in one write'));
  assert.equal(refusal?.obj['queries'], 2, 'the refusal says how many queries the write held');
  assert.ok(!l.log.text().includes('pwned'));
});

check('lockstep: a query sent before the previous answer abandons it; its late "yes" is never written', async (t) => {
  const rec = recordFile();
  const accounts = accountsFor(t, `${script('slow.mjs', { RECORD_FILE: rec })}\nexternal_auth_processes = 1`);
  const l = lockstep(accounts);
  // The script answers yes 300 ms after it reads this one.
  l.input.write('auth:alice:localhost:delay-300\n');
  await until(() => recorded(rec).length === 1, 'the script has the first query');
  // The caller gave up and sent another query (or an attacker's line arrived): one "no" for it,
  // and it is not asked.
  l.input.write('auth:eve:localhost:secret\n');
  await until(() => l.written.length === 1, 'the "no" for the second write');
  // The next query queues behind the slow one: when it is answered, the first one's "yes" has
  // come back from the script, and must have been dropped.
  l.input.write('auth:bob:localhost:wrong\n');
  await until(() => l.written.length === 2, 'the third answer');
  l.input.end();
  const stats = await l.run;
  assert.deepEqual(l.written, ['0\n', '0\n']);
  assert.deepEqual(recorded(rec), ['auth:alice:localhost:delay-300', 'auth:bob:localhost:wrong']);
  assert.deepEqual(l.events, ['abandoned', 'desync']);
  assert.deepEqual(stats, { queries: 3, yes: 0, no: 2, errors: 0, desyncs: 1, abandoned: 1, early: 0 });
  const w = warnings(l.log);
  assert.ok(w.includes('query abandoned, nothing written: another write arrived before its answer'), w.join(' | '));
  assert.equal(l.log.entries.find((e) => e.msg?.startsWith('a query arrived while another was unanswered'))?.obj['queries'], 1, w.join(' | '));
  const abandoned = l.log.entries.find((e) => e.msg?.startsWith('query abandoned'));
  assert.deepEqual([abandoned?.obj['command'], abandoned?.obj['user'], abandoned?.obj['host']], ['auth', 'alice', 'localhost']);
});

check("lockstep: input that waited before the bridge started counts against the caller's deadline", async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  // The caller wrote 59.5 s ago and waits 60 s: the bridge's budget (59 s) is spent.
  const l = lockstep(accounts, { inputSince: performance.now() - 59_500 });
  l.input.write('auth:alice:localhost:secret\n');
  await until(() => l.events.length === 1, 'the first query settled');
  assert.deepEqual(l.written, [], 'no answer after the deadline');
  assert.ok(warnings(l.log).includes("answer ready after the caller's deadline; nothing written"));
  // What comes after the first read is dated by the clock: answered.
  l.input.write('auth:alice:localhost:secret\n');
  await until(() => l.written.length === 1, 'the next answer');
  l.input.end();
  const stats = await l.run;
  assert.deepEqual(l.written, ['1\n']);
  assert.deepEqual(l.events, ['abandoned']);
  // The engine was given the same spent deadline: it refused to ask the script (the error).
  assert.deepEqual(stats, { queries: 2, yes: 1, no: 0, errors: 1, desyncs: 0, abandoned: 1, early: 0 });
});

check('lockstep: input waiting since the start dates only the first read: the next, even at once, is dated by the clock', async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  const l = lockstep(accounts, { inputSince: performance.now() - 59_500 });
  // The first read (refused at once, and dropped: past the deadline), then at once, before the
  // clock has ticked, the caller's next query: it arrived after the first read.
  l.input.write('frobnicate:a:localhost\n');
  assert.deepEqual(l.events, ['abandoned']);
  l.input.write('auth:alice:localhost:secret\n');
  await until(() => l.written.length === 1, 'the answer');
  l.input.end();
  await l.run;
  assert.deepEqual(l.written, ['1\n']);
  assert.deepEqual(l.events, ['abandoned']);
});

check('lockstep: once the clock has ticked twice since the start, even the first read is dated by it', async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  const l = lockstep(accounts, { inputSince: performance.now() - 59_500 });
  // By then whatever waited before the start has been read: what comes now is new.
  const started = performance.now();
  await until(() => arrivedNoEarlierThan() > started, 'two ticks');
  l.input.write('auth:alice:localhost:secret\n');
  await until(() => l.written.length === 1, 'the answer');
  l.input.end();
  await l.run;
  assert.deepEqual(l.written, ['1\n']);
  assert.deepEqual(l.events, []);
});

check('lockstep: with input waiting since just now, the first query is answered (positive control)', async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  const l = lockstep(accounts, { inputSince: performance.now() });
  l.input.write('auth:alice:localhost:secret\n');
  await until(() => l.written.length === 1, 'the answer');
  l.input.end();
  await l.run;
  assert.deepEqual(l.written, ['1\n']);
});

check('lockstep: a refusal due after the deadline is not written either', async (t) => {
  const rec = recordFile();
  const accounts = accountsFor(t, script('fast.mjs', { RECORD_FILE: rec }));
  const l = lockstep(accounts, { inputSince: performance.now() - 59_500 });
  // An injection, a malformed query, and an oversized one, each the caller's first write
  // (a fresh bridge each): a "no" written after the deadline would answer the next login.
  l.input.write('auth:a:localhost:x\nauth:b:localhost:y\n');
  await until(() => l.events.length === 2, 'refused and dropped');
  l.input.end();
  const stats = await l.run;
  assert.deepEqual(l.written, []);
  assert.deepEqual(l.events, ['desync', 'abandoned']);
  assert.equal(stats.no, 0);
  for (const q of ['frobnicate:a:localhost\n', `auth:a:localhost:${'x'.repeat(5000)}\n`]) {
    const m = lockstep(accounts, { inputSince: performance.now() - 59_500 });
    m.input.write(q);
    await until(() => m.events.length === 1, 'dropped');
    m.input.end();
    const s = await m.run;
    assert.deepEqual(m.written, []);
    assert.deepEqual([s.errors, s.no, s.abandoned], [1, 0, 1]);
  }
  assert.deepEqual(recorded(rec), []);
});

check('lockstep: malformed, oversized and empty queries are "no", logged, not asked', async (t) => {
  const rec = recordFile();
  const accounts = accountsFor(t, script('fast.mjs', { RECORD_FILE: rec }));
  const l = lockstep(accounts);
  for (const [i, q] of ['frobnicate:alice:localhost\n', `auth:alice:localhost:${'x'.repeat(5000)}\n`, '\n'].entries()) {
    l.input.write(q);
    await until(() => l.written.length === i + 1, `answer ${i + 1}`);
  }
  l.input.end();
  const stats = await l.run;
  assert.deepEqual(l.written, ['0\n', '0\n', '0\n']);
  assert.deepEqual(stats, { queries: 3, yes: 0, no: 3, errors: 3, desyncs: 0, abandoned: 0, early: 0 });
  assert.deepEqual(recorded(rec), []);
  const w = l.log.entries.filter((e) => e.level === 'warn');
  assert.deepEqual(
    w.map((e) => e.msg!.replace(/: .*/, '')),
    ['malformed query answered no', 'query too long or empty; answered no', 'malformed query answered no'],
  );
  assert.equal(w[0]!.obj['code'], 'ERR_EXTAUTH_UNSUPPORTED');
  assert.equal(w[0]!.obj['field'], 'command');
});

check('lockstep: an engine error is "no", logged with its class', async (t) => {
  const accounts = accountsFor(t, `[hosts."lying.example"]\n${script('lying.mjs')}\n[hosts."localhost"]\n${script('fast.mjs')}`);
  const l = lockstep(accounts);
  l.input.write('auth:alice:lying.example:secret\n');
  await until(() => l.written.length === 1, 'answer');
  l.input.write('isuser:alice:nohost.example\n');
  await until(() => l.written.length === 2, 'answer');
  l.input.end();
  const stats = await l.run;
  assert.deepEqual(l.written, ['0\n', '0\n']);
  assert.deepEqual(stats, { queries: 2, yes: 0, no: 2, errors: 2, desyncs: 0, abandoned: 0, early: 0 });
  const answered = l.log.entries.filter((e) => e.msg?.startsWith('query answered no: '));
  assert.deepEqual(
    answered.map((e) => [e.obj['class'], e.obj['command'], e.obj['user'], e.obj['host'], e.obj['code']]),
    [
      ['temporary', 'auth', 'alice', 'lying.example', answered[0]?.obj['code']],
      ['unsupported', 'isuser', 'alice', 'nohost.example', 'ERR_AUTH_NOT_CONFIGURED'],
    ],
  );
  assert.equal(typeof answered[0]!.obj['code'], 'string');
});

check('lockstep: bytes that arrived before the terminal was raw are never answered, nor what completes them', async (t) => {
  const rec = recordFile();
  const accounts = accountsFor(t, script('fast.mjs', { RECORD_FILE: rec }));
  // One whole query and the start of another were waiting (and may have been echoed).
  const l = lockstep(accounts, { early: Buffer.from('auth:alice:localhost:secret\nauth:bob:loc') });
  // The rest of the second one arrives after: still part of that early write.
  l.input.write('alhost:secret\n');
  // The next write is the caller's next query: answered.
  l.input.write('auth:carol:localhost:secret\n');
  await until(() => l.written.length === 1, 'the answer to the next write');
  l.input.end();
  const stats = await l.run;
  assert.deepEqual(l.written, ['1\n']);
  assert.deepEqual(recorded(rec), ['auth:carol:localhost:secret']);
  assert.deepEqual(stats, { queries: 3, yes: 1, no: 0, errors: 0, desyncs: 0, abandoned: 0, early: 2 });
  const w = l.log.entries.find((e) => e.msg?.startsWith('input that arrived before the terminal was raw'));
  assert.deepEqual([w?.obj['bytes'], w?.obj['queries']], [40, 2]);
});

check('lockstep: whole early queries only, and no early input at all', async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  const whole = lockstep(accounts, { early: Buffer.from('auth:alice:localhost:secret\n') });
  whole.input.write('auth:alice:localhost:secret\n');
  await until(() => whole.written.length === 1, 'answer');
  whole.input.end();
  assert.equal((await whole.run).early, 1);
  assert.deepEqual(whole.written, ['1\n']);

  const none = lockstep(accounts, { early: Buffer.alloc(0) });
  none.input.write('auth:alice:localhost:secret\n');
  await until(() => none.written.length === 1, 'answer');
  none.input.end();
  assert.equal((await none.run).early, 0);
  assert.deepEqual(none.written, ['1\n']);
  assert.deepEqual(warnings(none.log), [], 'nothing early to report');
});

/** The lockstep bridge writing its answers into a pipe nobody reads (EPIPE), closed after the test. */
function lockstepIntoBrokenPipe(t: TestContext, accounts: Accounts): Lockstep {
  const writer = brokenPipe();
  t.after(() => closeSync(writer));
  return lockstep(accounts, { write: (b) => void writeSync(writer, b) });
}

check('lockstep: a write the caller cannot take (EPIPE) rejects, and nothing more is read', async (t) => {
  const l = lockstepIntoBrokenPipe(t, accountsFor(t, script('fast.mjs')));
  l.input.write('auth:alice:localhost:secret\n');
  await assert.rejects(l.run, /EPIPE/);
  assert.ok(l.input.isPaused());
  assert.ok(await clockStands(), 'the conversation let go of the liveness clock');
  // Input still arriving is not acted on.
  l.input.write('auth:alice:localhost:x\nauth:b:localhost:y\n');
  assert.deepEqual(l.events, []);
});

check('lockstep: an engine error whose "no" the caller cannot take is not logged as answered', async (t) => {
  // The script's reply is not one the protocol allows: the engine fails the query.
  const accounts = accountsFor(t, script('garbage.mjs'));
  const l = lockstepIntoBrokenPipe(t, accounts);
  l.input.write('auth:alice:localhost:secret\n');
  await assert.rejects(l.run, /EPIPE/);
  // The engine's error has come back (it is what the bridge tried to answer); give its handler
  // a turn of the event loop to log.
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    l.log.entries.filter((e) => e.msg?.startsWith('query answered no')),
    [],
    'a "no" that was never written is not logged as answered',
  );

  // Positive control: with a caller that takes the answer, the same error is logged as answered.
  const ok = lockstep(accounts);
  ok.input.write('auth:alice:localhost:secret\n');
  await until(() => ok.written.length === 1, 'answer');
  ok.input.end();
  await ok.run;
  assert.deepEqual(ok.written, ['0\n']);
  assert.equal(ok.log.entries.filter((e) => e.msg?.startsWith('query answered no')).length, 1);
});

check('lockstep: an input error ends it with its counts, and an answer due after the end is not written', async (t) => {
  const accounts = accountsFor(t, `${script('slow.mjs')}\nexternal_auth_processes = 1`);
  const l = lockstep(accounts);
  l.input.write('isuser:a:localhost\n');
  await until(() => l.written.length === 1, 'answer');
  l.input.write('auth:a:localhost:delay-200\n');
  l.input.destroy(new Error('read failed'));
  const stats = await l.run;
  assert.equal(stats.queries, 2);
  assert.ok(l.log.entries.some((e) => e.msg === 'bridge input error' && e.obj['err'] === 'read failed'));
  // One script process answers in order: once this is answered, so is the pending query.
  assert.equal(await accounts.query(ISUSER_A), true);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(l.written, ['1\n'], 'nothing written after the end');
  assert.ok(await clockStands());
});

check("lockstep: a query not answered before the caller's deadline gets nothing, and the script busy with it is replaced", async (t) => {
  const rec = recordFile();
  const accounts = accountsFor(t, `${script('slow.mjs', { RECORD_FILE: rec })}\nexternal_auth_processes = 1\nexternal_auth_timeout = 60`);
  // The caller waits 4 s: the bridge answers within 3 s (the margin is one second) or never.
  const l = lockstep(accounts, { callerTimeoutMs: 4000 });
  l.input.write('auth:alice:localhost:delay-50000\n');
  await until(() => l.events.includes('abandoned'), 'the query abandoned at the deadline');
  assert.deepEqual(l.written, [], 'nothing written for it');
  // Not a desync: the caller's next query is answered, by a new script process (the old one
  // would answer it only after its 50 s).
  l.input.write('auth:bob:localhost:secret\n');
  await until(() => l.written.length === 1, 'the next answer');
  l.input.end();
  const stats = await l.run;
  assert.deepEqual(l.written, ['1\n']);
  assert.deepEqual(l.events, ['abandoned']);
  assert.deepEqual(stats, { queries: 2, yes: 1, no: 0, errors: 1, desyncs: 0, abandoned: 1, early: 0 });
  // The bridge's timer and the engine's deadline (the same instant) race: either the bridge
  // abandons the query first, or the engine's refusal comes back past the deadline.
  const timer = l.log.entries.find((e) => e.msg === "query abandoned, nothing written: no answer before the caller's deadline");
  if (timer !== undefined) assert.deepEqual([timer.obj['command'], timer.obj['user'], timer.obj['host']], ['auth', 'alice', 'localhost']);
  else assert.ok(warnings(l.log).includes("answer ready after the caller's deadline; nothing written"), warnings(l.log).join(' | '));
  // The engine's error for the abandoned query is not logged as an answer: nothing was answered.
  assert.ok(!l.log.entries.some((e) => e.msg?.startsWith('query answered no')));
});

// ---------------------------------------------------------------------------------------------
// socket-server.ts
// ---------------------------------------------------------------------------------------------

function worker(path: string): Promise<{ socket: Socket; got(): Buffer; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let got = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('error', reject);
    socket.once('connect', () => resolve({ socket, got: () => got, closed }));
  });
}

check('extauth socket: lockstep per connection, connections and events counted, the surplus connection refused', async (t) => {
  const accounts = accountsFor(t, `${script('slow.mjs')}\nexternal_auth_processes = 2\nexternal_auth_timeout = 60`);
  const metrics = createRegistry({ processMetrics: false });
  const log = new MemoryLogger();
  const server = new ExtauthSocketServer({
    accounts,
    protocol: 'ejabberd',
    callerTimeoutMs: 2000,
    limits: servedQueryLimits(accounts),
    maxConnections: 2,
    metrics,
    logger: log,
  });
  t.after(() => server.close());
  const path = join(mkdtempSync(join(tmpdir(), 'gh-xsock-')), 's');
  await server.listen({ socket: path });
  const a = await worker(path);
  const b = await worker(path);
  a.socket.write(frame('auth:alice:localhost:secret'));
  await until(() => a.got().length >= 4, 'answer on a');
  assert.deepEqual(a.got(), YES16);
  assert.match(await metrics.metrics(), /gatehouse_extauth_socket_connections 2\n/);

  // A third worker is one too many: closed at once, and the refusal logged.
  const c = await worker(path);
  await c.closed;
  assert.ok(log.entries.some((e) => e.level === 'warn' && e.msg === 'extauth connection refused: too many connections' && e.obj['max'] === 2));

  // Two frames in one write: one "no"; a query past the worker's deadline: nothing. Both counted.
  b.socket.write(Buffer.concat([frame('auth:alice:localhost:secret'), frame('isuser:alice:localhost')]));
  await until(() => b.got().length >= 4, 'answer on b');
  assert.deepEqual(b.got(), NO16);
  b.socket.write(frame('auth:alice:localhost:delay-50000'));
  let lastMetrics = '';
  for (let i = 0; i < 600 && !/event="abandoned"\} 1/.test(lastMetrics); i++) {
    lastMetrics = await metrics.metrics();
    if (!/event="abandoned"\} 1/.test(lastMetrics)) await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(lastMetrics, /gatehouse_extauth_lockstep_events_total\{event="abandoned"\} 1/);
  assert.match(lastMetrics, /gatehouse_extauth_lockstep_events_total\{event="desync"\} 1/);
  assert.deepEqual(b.got(), NO16, 'nothing written for the abandoned query');

  // A worker that leaves: its connection is no longer counted, and its bridge ends.
  a.socket.end();
  await a.closed;
  for (let i = 0; i < 600; i++) {
    lastMetrics = await metrics.metrics();
    if (/gatehouse_extauth_socket_connections 1\n/.test(lastMetrics)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(lastMetrics, /gatehouse_extauth_socket_connections 1\n/);
  const closedLog = log.entries.find((e) => e.msg === 'extauth connection closed');
  assert.equal(closedLog?.obj['conn'], 1);
  assert.equal(closedLog?.obj['yes'], 1);

  // Closing the server ends the remaining connection.
  await server.close();
  await b.closed;
});

check('extauth socket: a worker that resets its connection mid-query is logged, and the others are still served', async (t) => {
  const rec = recordFile();
  const accounts = accountsFor(t, script('slow.mjs', { RECORD_FILE: rec }));
  const log = new MemoryLogger();
  const server = new ExtauthSocketServer({ accounts, protocol: 'generic', callerTimeoutMs: 30_000, limits: servedQueryLimits(accounts), logger: log });
  t.after(() => server.close());
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const a = connect(port!, '127.0.0.1');
  t.after(() => a.destroy());
  await once(a, 'connect');
  a.write('auth:alice:localhost:delay-300\n');
  await until(() => recorded(rec).length === 1, 'the query reached the script');
  // A TCP reset (RFC 9293 §3.10.7.4): the server's read fails with ECONNRESET.
  a.resetAndDestroy();
  await until(() => log.entries.some((e) => e.msg === 'extauth connection error'), 'the error logged');
  assert.match(String(log.entries.find((e) => e.msg === 'extauth connection error')!.obj['err']), /ECONNRESET/);
  const b = connect(port!, '127.0.0.1');
  t.after(() => b.destroy());
  let got = '';
  b.setEncoding('utf8').on('data', (d: string) => (got += d));
  await once(b, 'connect');
  b.write('auth:bob:localhost:secret\n');
  await until(() => got.length >= 2, 'the answer to the other worker');
  assert.equal(got, '1\n');
});

check('extauth socket: without metrics, still served, an injected write refused as with them', async (t) => {
  const accounts = accountsFor(t, script('fast.mjs'));
  const server = new ExtauthSocketServer({ accounts, protocol: 'generic', callerTimeoutMs: 30_000, limits: servedQueryLimits(accounts) });
  t.after(() => server.close());
  const path = join(mkdtempSync(join(tmpdir(), 'gh-xsock-')), 's');
  await server.listen({ socket: path });
  const a = await worker(path);
  a.socket.write('auth:alice:localhost:secret\n');
  await until(() => a.got().length >= 2, 'answer');
  assert.equal(a.got().toString(), '1\n');
  // A desync event with no counter to count it: one "no", and the connection goes on.
  a.socket.write('auth:mallory:localhost:x\nauth:alice:localhost:secret\n');
  await until(() => a.got().length >= 4, 'the refusal');
  a.socket.write('auth:alice:localhost:secret\n');
  await until(() => a.got().length >= 6, 'the next answer');
  assert.equal(a.got().toString(), '1\n0\n1\n');
  // The worker ends its side: the bridge ends, and the server ends the connection.
  a.socket.end();
  await a.closed;
});

// ---------------------------------------------------------------------------------------------
// terminal.ts, on a real pty
// ---------------------------------------------------------------------------------------------

/**
 * Opens a pty, writes `early` to it as the caller would before the program has the terminal,
 * then runs a Node program on the pty's slave side (fd 0) that calls takeTerminal() and reports
 * on a pipe: the early bytes (hex), then `stty -a` of the terminal after.
 */
const PTY_RUNNER = `
import os, pty, subprocess, sys
early = bytes.fromhex(sys.argv[1])
master, slave = pty.openpty()
os.write(master, early)
p = subprocess.Popen(sys.argv[2:], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
os.close(slave)
out, err = p.communicate(timeout=60)
sys.stdout.write(out.decode())
sys.stderr.write(err.decode())
sys.exit(p.returncode)
`;

function takeTerminalProgram(): string {
  const mod = fileURLToPath(new URL('../../src/bridge/terminal.js', import.meta.url));
  return `import { takeTerminal } from ${JSON.stringify(mod)};
import { spawnSync } from 'node:child_process';
try {
  const early = takeTerminal();
  const stty = spawnSync('stty', ['-a'], { stdio: [0, 'pipe', 'pipe'], encoding: 'utf8' }).stdout;
  process.stdout.write(JSON.stringify({ early: early.toString('hex'), stty }));
} catch (err) {
  process.stdout.write(JSON.stringify({ error: { name: err.name, code: err.code, message: err.message, isTerminalError: err.constructor.name } }));
}`;
}

type PtyReport = { early?: string; stty?: string; error?: { name: string; code: string; message: string } };

async function runOnPty(early: Buffer): Promise<PtyReport> {
  const r = await runProgram('python3', ['-c', PTY_RUNNER, early.toString('hex'), process.execPath, '--input-type=module', '-e', takeTerminalProgram()]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as PtyReport;
}

/** Runs a program to its end (killed after a minute), with its exit code and output. */
async function runProgram(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // Its stdin is at its end: a program that reads it gets EOF, not a wait.
  child.stdin.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  try {
    const [code] = (await once(child, 'close')) as [number | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
  }
}

check('terminal: the bytes waiting before the terminal is raw are taken out, and the terminal is left raw', async () => {
  // A whole line and the start of another (a cooked terminal holds the line being edited); more
  // than one read takes; and nothing at all. The three terminals are independent.
  const partial = Buffer.from('auth:alice:localhost:secret\nauth:bob:loc');
  const many = Buffer.from('auth:alice:localhost:secret\n'.repeat(200));
  const [a, b, c] = await Promise.all([runOnPty(partial), runOnPty(many), runOnPty(Buffer.alloc(0))]);
  assert.equal(a.error, undefined);
  assert.equal(Buffer.from(a.early!, 'hex').toString(), partial.toString());
  assert.equal(Buffer.from(b.early!, 'hex').toString(), many.toString());
  assert.equal(c.early, '');
  // Raw: no echo, no line editing, no signals, no flow control, no output processing; and
  // reads that return at once.
  const flags = a.stty!.split(/[\s;]+/);
  for (const f of ['-echo', '-icanon', '-isig', '-ixon', '-opost', '-icrnl']) assert.ok(flags.includes(f), `${f} in ${a.stty}`);
  assert.match(a.stty!, /min = 0; time = 0;/);
});

check('terminal: stdin that is not a terminal is refused with the reason', async () => {
  const r = await runProgram(process.execPath, ['--input-type=module', '-e', takeTerminalProgram()]);
  const { error } = JSON.parse(r.stdout) as { error: { name: string; code: string; message: string; isTerminalError: string } };
  assert.equal(error.name, 'TerminalError');
  assert.equal(error.code, 'ERR_TERMINAL_SETUP');
  assert.equal(error.isTerminalError, 'TerminalError');
  assert.match(error.message, /^cannot set the terminal raw \(stty: .*(ioctl|terminal).*\)$/);
});
