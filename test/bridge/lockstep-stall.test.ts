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
import { test } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { servedQueryLimits } from '../../src/bridge/bridge.js';
import { arrivedNoEarlierThan } from '../../src/bridge/liveness.js';
import { runLockstepBridge } from '../../src/bridge/lockstep.js';
import { parseConfigText } from '../../src/config/load.js';
import { fixtureCommand } from '../helpers/bridge.js';
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

test("a stall between the caller's write and the bridge's read counts against the caller's deadline: no late answer", async (t) => {
  const accounts = new Accounts(parseConfigText(`${fixtureCommand(fixture('slow.mjs'))}\nexternal_auth_processes = 1\nexternal_auth_timeout = 30`));
  t.after(() => accounts.close());
  const caller = spawn(process.execPath, ['-e', CALLER], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => caller.kill('SIGKILL'));
  let report = '';
  caller.stderr!.setEncoding('utf8').on('data', (d: string) => (report += d));

  const written: { text: string; at: number }[] = [];
  const events: string[] = [];
  const run = runLockstepBridge({
    input: caller.stdout!,
    write: (bytes) => void written.push({ text: bytes.toString(), at: Date.now() }),
    protocol: 'generic',
    accounts,
    limits: servedQueryLimits(accounts),
    callerTimeoutMs: CALLER_TIMEOUT_MS,
    onEvent: (e) => events.push(e),
  });
  const next = async (n: number): Promise<void> => {
    while (written.length < n) await new Promise((r) => setTimeout(r, 10));
  };

  // Positive control: without a stall, a query the script answers yes after 300 ms is answered.
  while (!report.includes('ready')) await once(caller.stderr!, 'data');
  caller.stdin!.write('auth:alice:localhost:delay-300\n');
  await next(1);
  assert.equal(written[0]!.text, '1\n');

  // The caller writes while this process is held for longer than the caller waits. The script
  // would answer yes 300 ms after the bridge reads the query: by then the caller has given up.
  const abandoned = (): number => events.filter((e) => e === 'abandoned').length;
  /** Until the bridge has answered or abandoned a query sent after these counts were taken. */
  const settled = async (writtenBefore: number, abandonedBefore: number): Promise<void> => {
    while (written.length === writtenBefore && abandoned() === abandonedBefore) await new Promise((r) => setTimeout(r, 10));
  };
  let trials = 0;
  let wroteAt = 0;
  let stallEnd = 0;
  let stallEndClock = 0;
  let before = 0;
  while (trials++ < 5) {
    const reports = report.length;
    before = written.length;
    const abandonedBefore = abandoned();
    const stallStart = Date.now();
    caller.stdin!.write('auth:alice:localhost:delay-300\n');
    stall(STALL_MS);
    stallEnd = Date.now();
    stallEndClock = performance.now();
    while (!report.slice(reports).includes('wrote')) await once(caller.stderr!, 'data');
    wroteAt = Number(/wrote (\d+)/.exec(report.slice(reports))![1]);
    // The bridge has read the query once this process runs again: it answers it or abandons it.
    await settled(before, abandonedBefore);
    // A trial counts when the caller wrote during the stall (a loaded machine may start it late).
    if (wroteAt >= stallStart && wroteAt < stallEnd) break;
  }
  assert.ok(wroteAt < stallEnd, 'the caller never wrote during a stall');
  // Input read right after a stall may have arrived before it: the bridge counts it from there
  // until its clock has ticked past the stall. The next query comes after that.
  while (arrivedNoEarlierThan() < stallEndClock) await new Promise((r) => setTimeout(r, 10));
  // Whatever the bridge did with the stalled query, it is over once the next query is answered.
  caller.stdin!.write('auth:bob:localhost:wrong\n');
  await next(before + 1);
  const late = written.slice(before).filter((w) => w.at >= wroteAt + CALLER_TIMEOUT_MS);
  assert.deepEqual(late.filter((w) => w.text === '1\n'), [], 'a "yes" written after the caller stopped waiting');
  assert.deepEqual(written.slice(before).map((w) => w.text), ['0\n'], 'one answer, for the query after the stall');
  assert.deepEqual(events.slice(-1), ['abandoned'], `the stalled query is abandoned (events: ${events.join(', ')})`);

  caller.stdin!.end();
  await run;
});
