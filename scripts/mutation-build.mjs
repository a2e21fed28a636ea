#!/usr/bin/env node
// Build step of a mutation run, in Stryker's sandbox: Stryker links node_modules into the
// sandbox only when it is a directory, so a checkout whose node_modules is itself a link (a
// git worktree) gets the link here. Stryker's copy also drops the executable bit, which the
// tests that run `bin/` programs on a terminal (and the fixture scripts run by path) need:
// each file gets back the mode it has in the project. Then the usual compile, C parts included.
// The sandbox is PROJECT/.stryker-tmp/sandbox-*, the current directory.
import { chmodSync, existsSync, readdirSync, realpathSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const project = join(process.cwd(), '..', '..');
if (!existsSync('node_modules')) symlinkSync(realpathSync(join(project, 'node_modules')), 'node_modules', 'dir');
restoreModes('.');
const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
// The C connector and the fdpass addon, which the handoff's tests run.
const c = spawnSync(process.execPath, ['scripts/build-connector.mjs'], { stdio: 'inherit' });
process.exit(c.status ?? 1);

/** Each file under `dir` (node_modules aside) gets the permission bits of the project's copy. */
function restoreModes(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) restoreModes(path);
    else if (entry.isFile() && existsSync(join(project, path))) chmodSync(path, statSync(join(project, path)).mode & 0o777);
  }
}
