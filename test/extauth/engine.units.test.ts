/**
 * The engine's in-memory parts, module by module: a job that settles exactly once (reply,
 * abort, queue wait, caller's deadline), the FIFO of jobs waiting for a process, and the
 * stderr log (line splitting, cutting, rate limit, redaction of passwords, DESIGN.md rules 1
 * and 8). Timers are the test runner's fake ones where a wait is involved, so nothing here
 * depends on the speed of the machine.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { ExtauthError } from '../../src/extauth/errors.js';
import { Job } from '../../src/extauth/job.js';
import { JobQueue } from '../../src/extauth/queue.js';
import { StderrLog } from '../../src/extauth/stderr.js';
import { MemoryLogger } from '../helpers/log.js';

interface Settled {
  job: Job;
  /** What the job settled with: true/false, or the error; undefined while unsettled. */
  result(): boolean | ExtauthError | undefined;
  calls(): number;
}

function job(secret?: string): Settled {
  let result: boolean | ExtauthError | undefined;
  let calls = 0;
  const j = new Job(
    Buffer.from('auth:a:h:p\n'),
    secret,
    (yes) => {
      calls++;
      result = yes;
    },
    (err) => {
      calls++;
      result = err;
    },
  );
  return { job: j, result: () => result, calls: () => calls };
}

function code(r: boolean | ExtauthError | undefined): unknown {
  return r instanceof ExtauthError ? r.code : r;
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

// --- Job -------------------------------------------------------------------------------------

test('a job settles exactly once: a reply after a failure (or a second reply) is ignored', () => {
  const a = job();
  assert.equal(a.job.settled, false);
  a.job.succeed(true);
  assert.equal(a.job.settled, true);
  a.job.fail(new ExtauthError('ERR_EXTAUTH_TIMEOUT'));
  a.job.succeed(false);
  assert.equal(a.result(), true);
  assert.equal(a.calls(), 1);

  const b = job();
  b.job.fail(new ExtauthError('ERR_EXTAUTH_EXITED'));
  b.job.succeed(true); // a late yes after the failure must not turn it into a yes
  b.job.fail(new ExtauthError('ERR_EXTAUTH_TIMEOUT'));
  assert.equal(code(b.result()), 'ERR_EXTAUTH_EXITED');
  assert.equal(b.calls(), 1);

  const c = job();
  c.job.succeed(false);
  c.job.succeed(true);
  assert.equal(c.result(), false);
});

test('the frame and the secret are kept as given', () => {
  const j = new Job(Buffer.from('x\n'), 'pw', () => {}, () => {});
  assert.deepEqual(j.frame, Buffer.from('x\n'));
  assert.equal(j.secret, 'pw');
});

test('an abort fails the job with ERR_EXTAUTH_ABORTED and the reason; a settled job lets go of the signal', () => {
  const ac = new AbortController();
  const a = job();
  a.job.watch(ac.signal);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
  const reason = new Error('caller went away');
  ac.abort(reason);
  const err = a.result() as ExtauthError;
  assert.equal(err.code, 'ERR_EXTAUTH_ABORTED');
  assert.equal(err.cause, reason);
  assert.equal(err.sent, false);

  // Answered first: the abort changes nothing, and the listener is gone with the job.
  const ac2 = new AbortController();
  const b = job();
  b.job.watch(ac2.signal);
  b.job.succeed(true);
  assert.equal(getEventListeners(ac2.signal, 'abort').length, 0, 'no listener left on a long-lived signal');
  ac2.abort();
  assert.equal(b.result(), true);
  assert.equal(b.calls(), 1);
});

test('the queue wait fails the job when it passes, and ends when a process takes the job', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const waited = job();
  waited.job.expireIn(100, () => new ExtauthError('ERR_EXTAUTH_OVERLOADED', 'waited too long'));
  t.mock.timers.tick(99);
  assert.equal(waited.result(), undefined);
  t.mock.timers.tick(1);
  assert.equal(code(waited.result()), 'ERR_EXTAUTH_OVERLOADED');
  assert.equal((waited.result() as ExtauthError).message, 'waited too long');

  const taken = job();
  taken.job.expireIn(100, () => new ExtauthError('ERR_EXTAUTH_OVERLOADED'));
  taken.job.dequeued();
  t.mock.timers.tick(1000);
  assert.equal(taken.result(), undefined, 'a job a process has taken is not failed by the queue wait');
  taken.job.succeed(true);
  assert.equal(taken.result(), true);
});

test('settling or leaving the queue clears the job\'s timers', () => {
  const before = timeouts();
  const a = job();
  a.job.expireIn(60_000, () => new ExtauthError('ERR_EXTAUTH_OVERLOADED'));
  a.job.expireAt(performance.now() + 60_000);
  assert.equal(timeouts(), before + 2);
  a.job.dequeued();
  assert.equal(timeouts(), before + 1, 'the queue timer');
  a.job.succeed(true);
  assert.equal(timeouts(), before, 'the deadline timer');

  const b = job();
  b.job.expireAt(performance.now() + 60_000);
  b.job.fail(new ExtauthError('ERR_EXTAUTH_EXITED'));
  assert.equal(timeouts(), before);
});

test('a caller\'s deadline fails a queued job as not sent, and ends the process of a running one', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const queued = job();
  assert.equal(queued.job.hasDeadline, false);
  queued.job.expireAt(performance.now() + 1000);
  assert.equal(queued.job.hasDeadline, true);
  t.mock.timers.tick(500);
  assert.equal(queued.result(), undefined, 'not before the deadline');
  t.mock.timers.tick(600);
  const err = queued.result() as ExtauthError;
  assert.equal(err.code, 'ERR_EXTAUTH_DEADLINE');
  assert.equal(err.sent, false, 'it never left the engine');

  const running = job();
  let abandoned = 0;
  running.job.expireAt(performance.now() + 1000);
  running.job.startedOn(() => abandoned++);
  t.mock.timers.tick(1100);
  assert.equal(code(running.result()), 'ERR_EXTAUTH_DEADLINE');
  assert.equal((running.result() as ExtauthError).sent, true, 'the script had the query');
  assert.equal(abandoned, 1, 'the process busy with it is ended');

  // Answered in time: the process is left alone.
  const answered = job();
  let ended = 0;
  answered.job.expireAt(performance.now() + 1000);
  answered.job.startedOn(() => ended++);
  answered.job.succeed(false);
  t.mock.timers.tick(5000);
  assert.equal(answered.result(), false);
  assert.equal(ended, 0);

  // A deadline already past fires at once.
  const past = job();
  past.job.expireAt(performance.now() - 5000);
  t.mock.timers.tick(0);
  assert.equal(code(past.result()), 'ERR_EXTAUTH_DEADLINE');
});

test('a job that fails while queued leaves its queue once; one already dequeued does not', () => {
  let left = 0;
  const holder = { left: () => left++ };
  const a = job();
  a.job.queuedIn(holder);
  a.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED'));
  a.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED'));
  assert.equal(left, 1);

  const b = job();
  b.job.queuedIn(holder);
  b.job.dequeued();
  b.job.succeed(true);
  assert.equal(left, 1);
});

// --- JobQueue --------------------------------------------------------------------------------

test('the queue is FIFO and counts only the jobs still waiting', () => {
  const q = new JobQueue();
  assert.equal(q.shift(), undefined);
  assert.equal(q.size, 0);
  const [a, b, c, d] = [job(), job(), job(), job()];
  for (const j of [a, b, c, d]) q.push(j.job);
  assert.equal(q.size, 4);
  b.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED')); // gave up while waiting
  assert.equal(q.size, 3);
  assert.equal(q.shift(), a.job);
  assert.equal(q.size, 2);
  // A job handed to a process no longer belongs to the queue: settling it later changes nothing.
  a.job.succeed(true);
  assert.equal(q.size, 2);
  assert.equal(q.shift(), c.job, 'the settled job is skipped');
  assert.equal(q.shift(), d.job);
  assert.equal(q.size, 0);
  assert.equal(q.shift(), undefined);
  // Usable again after running empty.
  const e = job();
  q.push(e.job);
  assert.equal(q.size, 1);
  assert.equal(q.shift(), e.job);
  assert.equal(q.shift(), undefined);
});

test('a job that gives up at the head, in the middle or at the tail of the queue leaves it, and the rest keep their order', () => {
  const q = new JobQueue();
  const [a, b, c, d, e] = [job(), job(), job(), job(), job()];
  for (const j of [a, b, c, d]) q.push(j.job);
  a.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED')); // the head
  d.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED')); // the tail
  q.push(e.job); // joins after c, not after the job that left
  c.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED')); // now in the middle
  assert.equal(q.size, 2);
  assert.equal(q.shift(), b.job);
  assert.equal(q.shift(), e.job);
  assert.equal(q.shift(), undefined);
  assert.equal(q.size, 0);

  // The only job gives up; then the queue starts over.
  const [f, g] = [job(), job()];
  q.push(f.job);
  f.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED'));
  assert.equal(q.shift(), undefined);
  q.push(g.job);
  assert.deepEqual(q.drain(), [g.job]);
});

test('a queue whose every job gave up is empty, and takes new jobs in order', () => {
  const q = new JobQueue();
  const [a, b] = [job(), job()];
  q.push(a.job);
  q.push(b.job);
  a.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED'));
  b.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED'));
  assert.equal(q.size, 0);
  assert.equal(q.shift(), undefined);
  assert.deepEqual(q.drain(), []);
  const c = job();
  q.push(c.job);
  assert.equal(q.shift(), c.job);
});

test('a job taken from the queue no longer has a queue wait', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const q = new JobQueue();
  const a = job();
  a.job.expireIn(100, () => new ExtauthError('ERR_EXTAUTH_OVERLOADED'));
  q.push(a.job);
  assert.equal(q.shift(), a.job);
  t.mock.timers.tick(500);
  assert.equal(a.result(), undefined);

  const [b, c] = [job(), job()];
  for (const j of [b, c]) {
    j.job.expireIn(100, () => new ExtauthError('ERR_EXTAUTH_OVERLOADED'));
    q.push(j.job);
  }
  assert.deepEqual(q.drain(), [b.job, c.job]);
  t.mock.timers.tick(500);
  assert.equal(b.result(), undefined, 'drained jobs are the caller\'s to fail');
});

test('drain returns the waiting jobs in order, without the settled ones, and empties the queue', () => {
  const q = new JobQueue();
  const jobs = [job(), job(), job(), job()];
  for (const j of jobs) q.push(j.job);
  assert.equal(q.shift(), jobs[0]!.job);
  jobs[2]!.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED'));
  assert.deepEqual(q.drain(), [jobs[1]!.job, jobs[3]!.job]);
  assert.equal(q.size, 0);
  assert.equal(q.shift(), undefined);
  assert.deepEqual(q.drain(), []);
  // A drained job that settles later does not make the size negative.
  jobs[1]!.job.fail(new ExtauthError('ERR_EXTAUTH_CLOSED'));
  assert.equal(q.size, 0);
  const [e, f] = [job(), job()];
  q.push(e.job);
  q.push(f.job);
  assert.equal(q.size, 2);
  assert.equal(q.shift(), e.job, 'a drained queue takes new jobs in order');
  assert.equal(q.shift(), f.job);
  assert.equal(q.shift(), undefined);
});

test('thousands of jobs, most of them giving up while waiting: the rest are served in order', () => {
  const q = new JobQueue();
  const jobs = Array.from({ length: 5000 }, () => job());
  for (const j of jobs) q.push(j.job);
  // Every third one keeps waiting; the others give up (queue timeout, abort), in a mixed order.
  const keep = jobs.filter((_, i) => i % 3 === 0);
  for (let i = jobs.length - 1; i >= 0; i--) if (i % 3 !== 0 && i % 2 === 0) jobs[i]!.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED'));
  for (let i = 0; i < jobs.length; i++) if (i % 3 !== 0 && i % 2 === 1) jobs[i]!.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED'));
  assert.equal(q.size, keep.length);
  const served: Job[] = [];
  // Served in two halves, with more waiting jobs arriving in between.
  for (let i = 0; i < 1000; i++) served.push(q.shift()!);
  const late = Array.from({ length: 1500 }, () => job());
  for (const j of late) q.push(j.job);
  for (let i = 0; i < late.length; i += 2) late[i]!.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED'));
  assert.equal(q.size, keep.length - 1000 + late.length / 2);
  for (let s = q.shift(); s !== undefined; s = q.shift()) served.push(s);
  assert.deepEqual(served, [...keep, ...late.filter((_, i) => i % 2 === 1)].map((j) => j.job));
  assert.equal(q.size, 0);
});

test('a queue after most of its jobs gave up keeps the rest, in order', () => {
  // Nine in ten give up while waiting (a burst of aborts): the queue must keep every job still
  // waiting.
  const q = new JobQueue();
  const jobs = Array.from({ length: 3000 }, () => job());
  for (const j of jobs) q.push(j.job);
  assert.equal(q.shift(), jobs[0]!.job);
  for (let i = 1; i < jobs.length; i++) if (i % 10 !== 0) jobs[i]!.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED'));
  assert.equal(q.size, 299);
  const rest: Job[] = [];
  for (let s = q.shift(); s !== undefined; s = q.shift()) rest.push(s);
  assert.deepEqual(rest, jobs.filter((_, i) => i > 0 && i % 10 === 0).map((j) => j.job));
});

test('a long queue served one by one keeps its order and its count', () => {
  const q = new JobQueue();
  const jobs = Array.from({ length: 3000 }, () => job());
  for (const j of jobs) q.push(j.job);
  const served: Job[] = [];
  for (let i = 0; i < 2500; i++) served.push(q.shift()!);
  // One of those left gives up after most were served.
  jobs[2700]!.job.fail(new ExtauthError('ERR_EXTAUTH_ABORTED'));
  assert.equal(q.size, 499);
  assert.deepEqual(q.drain(), jobs.slice(2500).filter((_, i) => i !== 200).map((j) => j.job));
  assert.deepEqual(served, jobs.slice(0, 2500).map((j) => j.job));
});

// --- StderrLog -------------------------------------------------------------------------------

function stderrLog(options: { maxLineBytes?: number; burst?: number; perSecond?: number; secrets?: string[] } = {}) {
  const logger = new MemoryLogger();
  const log = new StderrLog({ logger, ...options, secrets: () => options.secrets ?? [] });
  return {
    log,
    logger,
    lines: () => logger.entries.map((e) => ('stderr' in e.obj ? e.obj['stderr'] : { suppressed: e.obj['suppressed'] })),
  };
}

test('stderr is logged line by line as a warning, whatever the chunking', () => {
  const s = stderrLog();
  s.log.push(Buffer.from('first\nsec'));
  s.log.push(Buffer.from('ond\r\n\nthi'));
  s.log.push(Buffer.from('rd'));
  assert.deepEqual(s.lines(), ['first', 'second', '']);
  s.log.end();
  assert.deepEqual(s.lines(), ['first', 'second', '', 'third'], 'the unterminated last line at the end');
  for (const e of s.logger.entries) {
    assert.equal(e.level, 'warn');
    assert.equal(e.msg, 'auth script stderr');
    assert.equal('truncated' in e.obj, false);
  }
  s.log.end();
  assert.equal(s.logger.entries.length, 4, 'nothing more at a second end');
});

test('only a CR that ends a line is dropped', () => {
  const s = stderrLog();
  s.log.push(Buffer.from('a\rb\n\r\r\nc\r\n'));
  assert.deepEqual(s.lines(), ['a\rb', '\r', 'c']);
});

test('a stream that ends on a line end logs nothing more', () => {
  const s = stderrLog();
  s.log.push(Buffer.from('one\n'));
  s.log.end();
  assert.deepEqual(s.lines(), ['one']);
});

test('a long line is cut at maxLineBytes, by bytes, and marked truncated', () => {
  const s = stderrLog({ maxLineBytes: 10 });
  s.log.push(Buffer.from(`${'x'.repeat(10)}\n${'y'.repeat(11)}\n${'é'.repeat(6)}\n`));
  assert.deepEqual(s.lines(), ['x'.repeat(10), 'y'.repeat(10), 'é'.repeat(5)]);
  assert.deepEqual(s.logger.entries.map((e) => e.obj['truncated']), [undefined, true, true]);
});

test('an endless line is held at most 8 KiB: that much is logged, the rest of the line dropped', () => {
  const s = stderrLog({ maxLineBytes: 100_000 });
  s.log.push(Buffer.from('a'.repeat(8000)));
  s.log.push(Buffer.from('b'.repeat(500)));
  assert.equal(s.logger.entries.length, 1, 'logged as soon as the hold is full');
  assert.equal(s.lines()[0], 'a'.repeat(8000) + 'b'.repeat(192));
  assert.equal(s.logger.entries[0]!.obj['truncated'], true);
  s.log.push(Buffer.from('c'.repeat(100000)));
  s.log.push(Buffer.from('ccc\nnext\npart'));
  s.log.end();
  assert.deepEqual(s.lines().slice(1), ['next', 'part'], 'the rest of the cut line is never logged');
});

test('a line of exactly 8 KiB is held whole', () => {
  const s = stderrLog({ maxLineBytes: 100_000 });
  s.log.push(Buffer.from('a'.repeat(8000)));
  s.log.push(Buffer.from('b'.repeat(192)));
  assert.equal(s.logger.entries.length, 0);
  s.log.push(Buffer.from('\n'));
  assert.deepEqual(s.lines(), ['a'.repeat(8000) + 'b'.repeat(192)]);
  assert.equal(s.logger.entries[0]!.obj['truncated'], undefined);
});

test('after a cut line, an unterminated next chunk of it is not held either', () => {
  const s = stderrLog({ maxLineBytes: 100_000 });
  s.log.push(Buffer.from('a'.repeat(9000)));
  s.log.push(Buffer.from('zzz'));
  s.log.push(Buffer.from('\nok\n'));
  assert.deepEqual(s.lines(), ['a'.repeat(8192), 'ok']);
});

test('passwords are redacted, every occurrence, even one split across chunks', () => {
  const s = stderrLog({ secrets: ['hunter2', 's3cret'] });
  s.log.push(Buffer.from('got hunter2 and s3cret and hunt'));
  s.log.push(Buffer.from('er2\n'));
  assert.deepEqual(s.lines(), ['got [redacted] and [redacted] and [redacted]']);
});

test('an empty secret redacts nothing', () => {
  const s = stderrLog({ secrets: [''] });
  s.log.push(Buffer.from('plain text\n'));
  assert.deepEqual(s.lines(), ['plain text']);
});

test('the secrets are looked up when each line is logged', () => {
  const logger = new MemoryLogger();
  let secrets: string[] = [];
  const log = new StderrLog({ logger, secrets: () => secrets });
  log.push(Buffer.from('pw1\npw'));
  secrets = ['pw1'];
  log.push(Buffer.from('1\n'));
  assert.deepEqual(logger.entries.map((e) => e.obj['stderr']), ['pw1', '[redacted]']);
});

test('a flood of stderr is rate limited: a burst, then perSecond; suppressed lines are counted', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const s = stderrLog({ burst: 2, perSecond: 4 });
  for (const l of ['a', 'b', 'c']) s.log.push(Buffer.from(`${l}\n`));
  assert.deepEqual(s.lines(), ['a', 'b']);
  t.mock.timers.tick(250); // a quarter second at 4 per second: exactly one more line
  s.log.push(Buffer.from('d\ne\n'));
  assert.deepEqual(s.lines(), ['a', 'b', { suppressed: 1 }, 'd']);
  const flush = s.logger.entries[2]!;
  assert.equal(flush.level, 'warn');
  assert.equal(flush.msg, 'auth script stderr lines suppressed (rate limit)');
  t.mock.timers.tick(100); // 0.4 of a line
  s.log.push(Buffer.from('f\n'));
  assert.equal(s.lines().length, 4);
  t.mock.timers.tick(10_000); // a long pause refills no more than the burst
  s.log.push(Buffer.from('g\nh\ni\nj\n'));
  assert.deepEqual(s.lines().slice(4), [{ suppressed: 2 }, 'g', 'h']);
  s.log.end();
  assert.deepEqual(s.lines().slice(7), [{ suppressed: 2 }], 'the count of the last ones at the end');
  s.log.end();
  assert.equal(s.lines().length, 8);
});

test('the rate is measured from the last line logged, not from the start', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const s = stderrLog({ burst: 1, perSecond: 4 });
  s.log.push(Buffer.from('a\n'));
  t.mock.timers.tick(250);
  s.log.push(Buffer.from('b\n'));
  t.mock.timers.tick(100);
  s.log.push(Buffer.from('c\n'));
  assert.deepEqual(s.lines(), ['a', 'b']);
});

test('the defaults: lines of 1024 bytes, a burst of 20, then 5 a second', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const s = stderrLog();
  s.log.push(Buffer.from(`${'x'.repeat(1025)}\n`));
  assert.equal(s.lines()[0], 'x'.repeat(1024));
  for (let i = 1; i < 25; i++) s.log.push(Buffer.from(`${i}\n`));
  assert.equal(s.lines().length, 20);
  t.mock.timers.tick(200);
  s.log.push(Buffer.from('one more\n'));
  assert.deepEqual(s.lines().slice(20), [{ suppressed: 5 }, 'one more']);
});
