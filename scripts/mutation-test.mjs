#!/usr/bin/env node
// The test command of a mutation run: each compiled test file in turn, in the order given, and
// stop at the first that fails. A killed mutant (most of them) then costs one file, not the
// group; a surviving one runs them all. Put the most pointed test files first.
// Usage: node scripts/mutation-test.mjs dist/test/a.test.js [dist/test/b.test.js ...]
import { spawnSync } from 'node:child_process';

for (const file of process.argv.slice(2)) {
  // GATEHOUSE_TEST_FAIL_FAST: a test file may skip its remaining tests after a failure.
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=dot', file], {
    stdio: 'inherit',
    env: { ...process.env, GATEHOUSE_TEST_FAIL_FAST: '1' },
  });
  if (r.status !== 0) {
    console.error(`mutant killed by ${file} (${r.status ?? r.signal})`);
    process.exit(1);
  }
}
