#!/usr/bin/env node
// Runs the compiled test files with Node's built-in test runner.
// Node 20's `--test` takes no glob, so the file list is collected here.
// Usage: node scripts/run-tests.mjs [substring filter ...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const testDir = join(root, 'dist', 'test');

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
const r = spawnSync(
  process.execPath,
  ['--test', `--test-reporter=${reporter}`, '--test-concurrency=2', ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(r.status ?? 1);
