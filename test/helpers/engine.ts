/** Start engines on the fixture scripts, with short timeouts suited to tests. */
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExtauthEngine, type EngineOptions } from '../../src/extauth/engine.js';
import type { ProtocolName } from '../../src/extauth/wire/protocol.js';
import { fixture } from './paths.js';

export interface FixtureEngine {
  engine: ExtauthEngine;
  /** Raw queries the script received so far (needs record: true). */
  received(): Buffer[];
}

export function fixtureEngine(
  name: string,
  options: Partial<EngineOptions> & { protocol?: ProtocolName; env?: Record<string, string>; record?: boolean } = {},
): FixtureEngine {
  const protocol = options.protocol ?? 'generic';
  const env: NodeJS.ProcessEnv = { ...process.env, FIXTURE_PROTOCOL: protocol, ...options.env };
  let recordFile: string | undefined;
  if (options.record) {
    recordFile = join(mkdtempSync(join(tmpdir(), 'gh-rec-')), 'queries.hex');
    env['RECORD_FILE'] = recordFile;
  }
  const engine = new ExtauthEngine({
    argv: [process.execPath, fixture(name)],
    size: 1,
    timeoutMs: 2000,
    queueLimit: 100,
    queueTimeoutMs: 2000,
    killGraceMs: 500,
    ...options,
    protocol,
    env,
  });
  return {
    engine,
    received() {
      if (recordFile === undefined || !existsSync(recordFile)) return [];
      return readFileSync(recordFile, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => Buffer.from(l, 'hex'));
    },
  };
}

/** Settle a promise into a comparable value: true, false, or the error code. */
export async function outcome(p: Promise<boolean>): Promise<boolean | string> {
  try {
    return await p;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** True when no process with this pid exists (reaped or never existed). */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Poll `cond` every 20 ms for at most `ms`: generous by default (it only costs time when the
 * condition never comes), so that a loaded machine does not fail a test that would pass.
 */
export async function waitFor(cond: () => boolean, ms = 60_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}
