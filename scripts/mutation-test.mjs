#!/usr/bin/env node
// The test command of a mutation run: each compiled test file in turn, in the order given, and
// stop at the first that fails. A killed mutant (most of them) then costs one file, not the
// group; a surviving one runs them all. Put the most pointed test files first.
//
// Each file is also bounded in time: the run without a mutant (Stryker's dry run) records how
// long each file took, and with a mutant a file that runs past three times that plus 20 s is
// stopped and the mutant counted as killed, as Stryker itself counts a mutant that makes the
// whole command time out. Without the bound, each mutant that makes one file hang (an
// unanswered query, a pool that never settles) costs Stryker's timeout for the whole command,
// its test files together.
// Usage: node scripts/mutation-test.mjs dist/test/a.test.js [dist/test/b.test.js ...]
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

// Stryker's command runner names the active mutant in this variable; the dry run has none.
const mutant = process.env.__STRYKER_ACTIVE_MUTANT__;
// In Stryker's sandbox (the working directory), so each run has its own.
const RECORD = '.mutation-test-durations.json';
const durations = mutant === undefined ? {} : readDurations();

for (const file of process.argv.slice(2)) {
  const started = performance.now();
  const bound = durations[file] === undefined ? null : 3 * durations[file] + 20_000;
  const { status, timedOut } = await runFile(file, bound);
  if (timedOut) {
    console.error(`mutant killed: ${file} ran past ${Math.round(bound / 1000)} s (without the mutant ${Math.round(durations[file] / 1000)} s)`);
    process.exit(1);
  }
  if (status !== 0) {
    console.error(`mutant killed by ${file} (${status})`);
    process.exit(1);
  }
  if (mutant === undefined) {
    durations[file] = performance.now() - started;
    writeFileSync(RECORD, JSON.stringify(durations));
  }
}

function readDurations() {
  try {
    return JSON.parse(readFileSync(RECORD, 'utf8'));
  } catch {
    return {};
  }
}

/** One test file in its own process group, killed whole (with what it started) at the bound. */
function runFile(file, bound) {
  return new Promise((resolve) => {
    // GATEHOUSE_TEST_FAIL_FAST: a test file may skip its remaining tests after a failure.
    const child = spawn(process.execPath, ['--test', '--test-reporter=dot', file], {
      stdio: 'inherit',
      detached: true,
      env: { ...process.env, GATEHOUSE_TEST_FAIL_FAST: '1' },
    });
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    };
    let timedOut = false;
    const timer =
      bound === null
        ? null
        : setTimeout(() => {
            timedOut = true;
            killGroup();
          }, bound);
    // Stopped itself (Ctrl-C, or a SIGTERM): take the file's process group with it.
    const stop = () => {
      killGroup();
      process.exit(1);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    child.once('exit', (code, signal) => {
      if (timer !== null) clearTimeout(timer);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve({ status: code ?? signal, timedOut });
    });
  });
}
