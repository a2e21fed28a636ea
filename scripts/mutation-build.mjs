#!/usr/bin/env node
// Build step of a mutation run, in Stryker's sandbox: Stryker links node_modules into the
// sandbox only when it is a directory, so a checkout whose node_modules is itself a link (a
// git worktree) gets the link here; then the usual compile.
// The sandbox is PROJECT/.stryker-tmp/sandbox-*, the current directory.
import { existsSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const project = join(process.cwd(), '..', '..');
if (!existsSync('node_modules')) symlinkSync(realpathSync(join(project, 'node_modules')), 'node_modules', 'dir');
const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
