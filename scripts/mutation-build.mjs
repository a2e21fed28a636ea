#!/usr/bin/env node
// Build step of a mutation run, in Stryker's sandbox: Stryker links node_modules into the
// sandbox only when it is a directory, so a checkout whose node_modules is itself a link (a
// git worktree) gets the link here. Stryker's copy also drops the executable bit, which the
// tests that run `bin/` programs on a terminal (and the fixture scripts run by path) need:
// each file gets back the mode it has in the project. Then the usual compile.
// The sandbox is PROJECT/.stryker-tmp/sandbox-*, the current directory.
import { chmodSync, existsSync, readdirSync, realpathSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const project = join(process.cwd(), '..', '..');
if (!existsSync('node_modules')) symlinkSync(realpathSync(join(project, 'node_modules')), 'node_modules', 'dir');
for (const entry of readdirSync('.', { recursive: true, withFileTypes: true })) {
  if (!entry.isFile()) continue;
  const path = join(entry.parentPath ?? entry.path, entry.name);
  if (path.startsWith('node_modules/')) continue;
  const original = join(project, path);
  if (!existsSync(original)) continue;
  const mode = statSync(original).mode & 0o777;
  if ((statSync(path).mode & 0o777) !== mode) chmodSync(path, mode);
}
const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
