#!/usr/bin/env node
// Runs the compiled test files with Node's built-in test runner.
// Node 20's `--test` takes no glob, so the file list is collected here.
// Usage: node scripts/run-tests.mjs [substring filter ...]
//
// Limits, so that no test can hang the run (each generous enough for a loaded 2-core machine;
// they only cost time when something is already wrong):
// - per file and per test: `--test-timeout` (GATEHOUSE_TEST_FILE_TIMEOUT_MS, default 8 min).
//   Node applies it to a file's run as a whole, and each test in it inherits it: a test or a
//   file that runs longer fails, and `after` hooks still run. A test may set a shorter limit
//   of its own.
// - per file, should the file's process not end after that (a handle left open, a child that
//   ignores its end): each file runs in its own `node --test` process (at most two at a time)
//   in a process group of its own, and a file still running a minute past its limit has that
//   whole group killed (SIGTERM, then SIGKILL 5 s later) and is reported as failed.
// - whole run: GATEHOUSE_TEST_TOTAL_TIMEOUT_MS (default 25 min). Past it every running file's
//   group is killed, the run says so, and exits non-zero.
// The summary at the end adds up the counts of every file: "N passed, N failed".
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const testDir = join(root, 'dist', 'test');

const ms = (name, fallback) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const FILE_TIMEOUT_MS = ms('GATEHOUSE_TEST_FILE_TIMEOUT_MS', 8 * 60_000);
/** Past Node's own limit, the runner's: for a file whose process does not end by itself. */
const KILL_AFTER_MS = FILE_TIMEOUT_MS + 60_000;
const TOTAL_TIMEOUT_MS = ms('GATEHOUSE_TEST_TOTAL_TIMEOUT_MS', 25 * 60_000);
const CONCURRENCY = 2;

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect(testDir).filter(
  (f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)),
);
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const reporter = process.env.GATEHOUSE_TEST_REPORTER ?? 'spec';
const queue = [...files];

const totals = { tests: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
const failedFiles = [];
/** What each failed file said of its failures, repeated at the end where a log's tail shows it. */
const failureDetails = [];
const DETAIL_MAX_CHARS = 6000;

/** The spec reporter's "failing tests" section of a file's output (or its last lines). */
function failureSection(text) {
  const at = text.lastIndexOf('failing tests:');
  const section = at >= 0 ? text.slice(at) : text.split('\n').slice(-40).join('\n');
  return section.length > DETAIL_MAX_CHARS ? `${section.slice(0, DETAIL_MAX_CHARS)}\n[... cut at ${DETAIL_MAX_CHARS} characters]` : section;
}
const running = new Set();
let runTimedOut = false;

/** Kill a child's whole process group: SIGTERM, then SIGKILL if it is still there. */
function killGroup(child) {
  const signal = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  signal('SIGTERM');
  setTimeout(() => signal('SIGKILL'), 5000).unref();
}

function runFile(file) {
  const name = relative(root, file);
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--test', `--test-reporter=${reporter}`, `--test-timeout=${FILE_TIMEOUT_MS}`, file],
      { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    running.add(child);
    // A file's output is printed whole when it ends, so two files' lines never interleave.
    const out = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => out.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, KILL_AFTER_MS);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      // Whatever it left behind in its group goes too.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* nothing left */
      }
      const text = Buffer.concat(out).toString();
      process.stdout.write(`\n# ${name}\n${text}`);
      for (const key of Object.keys(totals)) {
        const m = new RegExp(`^[#ℹ] ${key} (\\d+)$`, 'm').exec(text);
        if (m) totals[key] += Number(m[1]);
      }
      const killed = timedOut || runTimedOut;
      if (killed) {
        totals.fail += 1;
        const why = timedOut ? `still running after ${KILL_AFTER_MS / 1000} s` : `still running when the whole run reached ${TOTAL_TIMEOUT_MS / 1000} s`;
        console.log(`# ${name}: FAILED, ${why}: its process group was killed`);
      }
      if (killed || code !== 0) {
        failedFiles.push(`${name} (${killed ? 'timed out' : signal ?? `exit ${code}`})`);
        failureDetails.push(`# ${name}\n${failureSection(text)}`);
      }
      resolve();
    });
  });
}

const watchdog = setTimeout(() => {
  runTimedOut = true;
  console.error(`\n# the whole run exceeded ${TOTAL_TIMEOUT_MS / 1000} s: killing ${running.size} running test file(s), not starting the ${queue.length} left`);
  for (const child of running) killGroup(child);
  // Should a killed file not even report its end.
  setTimeout(() => process.exit(1), 10_000).unref();
}, TOTAL_TIMEOUT_MS);
watchdog.unref();

await Promise.all(
  Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
    while (queue.length > 0 && !runTimedOut) await runFile(queue.shift());
  }),
);
clearTimeout(watchdog);

if (runTimedOut) console.log(`\n# the whole run exceeded ${TOTAL_TIMEOUT_MS / 1000} s: ${queue.length} file(s) not run`);
if (failureDetails.length > 0) console.log(`\n# the failures again:\n${failureDetails.join('\n')}`);
console.log(`\n# files ${files.length}, failed files ${failedFiles.length}`);
for (const f of failedFiles) console.log(`#   failed: ${f}`);
console.log(`# tests ${totals.tests}, pass ${totals.pass}, fail ${totals.fail}, cancelled ${totals.cancelled}, skipped ${totals.skipped}`);
console.log(`${totals.pass} passed, ${totals.fail + totals.cancelled} failed`);
process.exit(failedFiles.length === 0 && !runTimedOut ? 0 : 1);
