// StrykerJS configuration for one group of mutation/groups.mjs, named by
// GATEHOUSE_MUTATION_GROUP (scripts/mutate.mjs sets it; GATEHOUSE_MUTATION_FILES, comma-
// separated, narrows the group to some of its files, GATEHOUSE_MUTATION_TESTS to some of its
// test files). The TypeScript sources are instrumented with every mutant at once, compiled once
// in Stryker's sandbox, and each mutant is switched on by the environment that the command
// runner passes to the tests and to the processes they start.
import { GROUPS } from './mutation/groups.mjs';

const name = process.env.GATEHOUSE_MUTATION_GROUP;
const group = GROUPS.find((g) => g.name === name);
if (group === undefined) {
  throw new Error(`GATEHOUSE_MUTATION_GROUP must name a group of mutation/groups.mjs (${GROUPS.map((g) => g.name).join(', ')}); got ${name}`);
}
const only = (process.env.GATEHOUSE_MUTATION_FILES ?? '').split(',').filter((f) => f !== '');
// GATEHOUSE_MUTATION_TESTS (comma-separated, of the group's own): run only these test files.
const chosen = (process.env.GATEHOUSE_MUTATION_TESTS ?? '').split(',').filter((t) => t !== '');
const tests = (chosen.length > 0 ? chosen : group.tests).map((t) => `dist/test/${t}.test.js`).join(' ');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'command',
  // Test files one by one, most pointed first, stopping at the first failure.
  commandRunner: { command: `node scripts/mutation-test.mjs ${tests}` },
  buildCommand: 'node scripts/mutation-build.mjs',
  mutate: only.length > 0 ? only : group.mutate,
  ignorePatterns: ['dist', 'reports', 'data', 'test-output', 'docs'],
  concurrency: Number(process.env.GATEHOUSE_MUTATION_CONCURRENCY ?? 1),
  timeoutMS: 30_000,
  // The first run of a group's test files, unmutated, can take minutes on a loaded machine.
  dryRunTimeoutMinutes: 30,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: `reports/mutation/${group.name}.json` },
  htmlReporter: { fileName: `reports/mutation/${group.name}.html` },
  incrementalFile: `reports/mutation/${group.name}.incremental.json`,
  tempDirName: '.stryker-tmp',
  thresholds: { high: 90, low: 80, break: null },
};
