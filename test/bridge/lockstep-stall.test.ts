/**
 * The lockstep bridge on a loaded machine: a stall of the bridge's process between the caller's
 * write and the bridge's read must count against the caller's deadline. Otherwise the answer is
 * written after the caller stopped waiting, and the caller (Prosody's pty module) reads it as the
 * answer to its next query: a wrong "yes".
 *
 * The stall is real: the caller is another process that writes while this one (the bridge's)
 * is held still, as a process the scheduler does not run is.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { servedQueryLimits } from '../../src/bridge/bridge.js';
import { arrivedNoEarlierThan } from '../../src/bridge/liveness.js';
import { runLockstepBridge, type LockstepStats } from '../../src/bridge/lockstep.js';
import { parseConfigText } from '../../src/config/load.js';
import { fixtureCommand } from '../helpers/bridge.js';
import { waitFor } from '../helpers/engine.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture } from '../helpers/paths.js';

const CALLER_TIMEOUT_MS = 1000;
const STALL_MS = 1500;

/** Holds this process still: no timer, no I/O callback runs (as when it is not scheduled). */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A caller that writes the query it is sent on stdin to its stdout, then reports on stderr the
 * wall-clock time of that write.
 */
const CALLER = `
process.stdin.setEncoding('utf8');
process.stdin.on('data', (q) => { process.stdout.write(q); process.stderr.write('wrote ' + Date.now() + '\\n'); });
process.stderr.write('ready\\n');
`;

interface Setup {
  /** Writes one query as the caller, from the caller's process. */
  send(query: string): void;
  /** Everything the bridge wrote, with the wall-clock time of each write. */
  written: { text: string; at: number }[];
  /** Lockstep events, when the bridge was given a listener. */
  events: string[];
  /** What the bridge logged. */
  log: MemoryLogger;
  /** Until the bridge has written `n` answers in all. */
  next(n: number): Promise<void>;
  /**
   * The caller writes `query` while this process is held for longer than the caller waits; up to
   * five trials, until one where the write fell inside the stall (a loaded machine may start the
   * caller's write late). `settled` says when the bridge is done with the query of a trial.
   * Returns the time of the write and of the stall's end (performance.now()), and the written
   * count before the trial that counted.
   */
  stalledWrite(query: string, settled: (writtenBefore: number) => Promise<void>): Promise<{ wroteAt: number; stallEndClock: number; before: number }>;
  /** Until input read now is counted from after the last stall (liveness.ts). */
  pastStall(stallEndClock: number): Promise<void>;
  /** Ends the caller's input; resolves with the bridge's counts. */
  end(): Promise<LockstepStats>;
}

async function setup(t: TestContext, withEvents: boolean): Promise<Setup> {
  const accounts = new Accounts(parseConfigText(`${fixtureCommand(fixture('slow.mjs'))}\nexternal_auth_processes = 1\nexternal_auth_timeout = 30`));
  t.after(() => accounts.close());
  const caller = spawn(process.execPath, ['-e', CALLER], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    caller.kill('SIGKILL');
    // A bridge that threw inside its input's listener no longer reads it to its end: the pipes
    // would keep this process alive.
    for (const stream of [caller.stdin, caller.stdout, caller.stderr]) stream?.destroy();
  });
  let report = '';
  caller.stderr!.setEncoding('utf8').on('data', (d: string) => (report += d));

  const written: { text: string; at: number }[] = [];
  const events: string[] = [];
  const log = new MemoryLogger();
  const run = runLockstepBridge({
    input: caller.stdout!,
    write: (bytes) => void written.push({ text: bytes.toString(), at: Date.now() }),
    protocol: 'generic',
    accounts,
    limits: servedQueryLimits(accounts),
    callerTimeoutMs: CALLER_TIMEOUT_MS,
    logger: log,
    // The CLI passes no listener: every path must then work without one.
    onEvent: withEvents ? (e) => events.push(e) : undefined,
  });
  while (!report.includes('ready')) await once(caller.stderr!, 'data');
  const send = (query: string): void => void caller.stdin!.write(query);
  return {
    send,
    written,
    events,
    log,
    async next(n) {
      assert.ok(await waitFor(() => written.length >= n), `${n} answers written`);
    },
    async stalledWrite(query, settled) {
      let wroteAt = 0;
      let stallEnd = 0;
      let stallEndClock = 0;
      let before = 0;
      for (let trials = 0; trials < 5; trials++) {
        const reports = report.length;
        before = written.length;
        const stallStart = Date.now();
        send(query);
        stall(STALL_MS);
        stallEnd = Date.now();
        stallEndClock = performance.now();
        while (!report.slice(reports).includes('wrote')) await once(caller.stderr!, 'data');
        wroteAt = Number(/wrote (\d+)/.exec(report.slice(reports))![1]);
        // The bridge has read the query once this process runs again: it answers it or abandons it.
        await settled(before);
        if (wroteAt >= stallStart && wroteAt < stallEnd) break;
      }
      assert.ok(wroteAt < stallEnd, 'the caller never wrote during a stall');
      return { wroteAt, stallEndClock, before };
    },
    async pastStall(stallEndClock) {
      // Input read right after a stall may have arrived before it: the bridge counts it from there
      // until its clock has ticked past the stall.
      while (arrivedNoEarlierThan() < stallEndClock) await new Promise((r) => setTimeout(r, 10));
    },
    async end() {
      caller.stdin!.end();
      return run;
    },
  };
}

test("a stall between the caller's write and the bridge's read counts against the caller's deadline: no late answer", async (t) => {
  const s = await setup(t, true);
  // Positive control: without a stall, a query the script answers yes after 300 ms is answered.
  s.send('auth:alice:localhost:delay-300\n');
  await s.next(1);
  assert.equal(s.written[0]!.text, '1\n');

  // The script would answer yes 300 ms after the bridge reads the query: by then the caller has
  // given up.
  const abandoned = (): number => s.events.filter((e) => e === 'abandoned').length;
  let abandonedBefore = 0;
  const { wroteAt, stallEndClock, before } = await s.stalledWrite('auth:alice:localhost:delay-300\n', async (writtenBefore) => {
    assert.ok(await waitFor(() => s.written.length !== writtenBefore || abandoned() !== abandonedBefore), 'the stalled query answered or abandoned');
    abandonedBefore = abandoned();
  });
  await s.pastStall(stallEndClock);
  // Whatever the bridge did with the stalled query, it is over once the next query is answered.
  s.send('auth:bob:localhost:wrong\n');
  await s.next(before + 1);
  const late = s.written.slice(before).filter((w) => w.at >= wroteAt + CALLER_TIMEOUT_MS);
  assert.deepEqual(late.filter((w) => w.text === '1\n'), [], 'a "yes" written after the caller stopped waiting');
  assert.deepEqual(s.written.slice(before).map((w) => w.text), ['0\n'], 'one answer, for the query after the stall');
  assert.deepEqual(s.events.slice(-1), ['abandoned'], `the stalled query is abandoned (events: ${s.events.join(', ')})`);
  // The engine refused the stalled query at once (its deadline had passed): the log says that
  // nothing was written, and does not claim that the refusal was answered "no".
  const messages = s.log.entries.map((e) => e.msg ?? '');
  assert.ok(messages.some((m) => m.includes('nothing written')), messages.join('\n'));
  assert.deepEqual(messages.filter((m) => m.startsWith('query answered no')), [], 'no answer claimed for the abandoned query');
  await s.end();
});

test('after a stall, a malformed query gets no late "no" either, and a bridge with no event listener (the CLI) goes on serving', async (t) => {
  const s = await setup(t, false);
  // Positive control: without a stall, a query with too few fields is answered "no" at once.
  s.send('auth:alice\n');
  await s.next(1);
  assert.equal(s.written[0]!.text, '0\n');

  // No script is asked for a malformed query: its "no" is ready at once, but the caller's
  // deadline passed while this process was held. Without a listener, there is no event to
  // wait for: each trial is over once a yes query sent after it is answered.
  let pastDeadline = 0;
  const { before } = await s.stalledWrite('auth:alice\n', async (writtenBefore) => {
    // The caller has written the trial's query: once the clock ticks again, the bridge has read
    // it, and its "no", if any, is out (it is written as the query is read).
    await s.pastStall(performance.now());
    s.send('auth:alice:localhost:delay-0\n');
    assert.ok(await waitFor(() => s.written.slice(writtenBefore).some((w) => w.text === '1\n')), 'the yes query after the trial answered');
    if (s.written.length === writtenBefore + 1) pastDeadline++;
  });
  assert.deepEqual(s.written.slice(before).map((w) => w.text), ['1\n'], 'nothing for the malformed query, then the yes of the next');
  const stats = await s.end();
  assert.equal(stats.abandoned, pastDeadline, 'each malformed query read past its deadline is counted as abandoned');
  assert.ok(stats.abandoned >= 1);
});
