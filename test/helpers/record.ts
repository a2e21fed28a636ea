/**
 * What the auth script received: the fixtures record each query they read (hex, one per line)
 * in $RECORD_FILE (test/fixtures/lib/serve.mjs). Set for the services a test starts after it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/**
 * Record the queries of the scripts started from now until the test ends. The reader gives []
 * before the first query: pair each "nothing was asked" with a query that was (a positive control).
 */
export function recordQueries(t: TestContext): () => string[] {
  const dir = mkdtempSync(join(tmpdir(), 'gh-record-'));
  const file = join(dir, 'queries');
  process.env['RECORD_FILE'] = file;
  t.after(() => {
    delete process.env['RECORD_FILE'];
    rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    try {
      return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((hex) => Buffer.from(hex, 'hex').toString('utf8'));
    } catch {
      return [];
    }
  };
}
