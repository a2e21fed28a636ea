/** Shared by the engine tests that run test/fixtures/scripted.mjs. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExtauthError } from '../../src/extauth/errors.js';
import type { MemoryLogger } from './log.js';
import { fixture } from './paths.js';

/** The script that misbehaves as each query's password says. */
export const SCRIPT = [process.execPath, fixture('scripted.mjs')];

/** Rejects when `p` takes longer than `ms`: a bound on a wait, never an assertion on speed. */
export function within<T>(p: Promise<T>, ms = 30_000, what = 'the wait'): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** An environment for the script's `hold` queries, and what answers them. */
export function holdEnv(): { FIXTURE_RELEASE: string; release(): void } {
  const file = join(mkdtempSync(join(tmpdir(), 'gh-hold-')), 'release');
  return { FIXTURE_RELEASE: file, release: () => writeFileSync(file, '') };
}

/** The script's "up" lines on stderr: it is loaded and reading (FIXTURE_UP). */
export function ups(log: MemoryLogger): number {
  return log.entries.filter((e) => e.obj['stderr'] === 'up').length;
}

/** The error code of an outcome, or the outcome. */
export function code(r: boolean | ExtauthError | string): unknown {
  return r instanceof ExtauthError ? r.code : r;
}
