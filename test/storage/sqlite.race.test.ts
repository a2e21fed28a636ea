/**
 * Single use across connections: several connections to one file (as several Gatehouse
 * processes on one data directory would have) race for the same codes and refresh tokens.
 * Worker threads give each connection its own thread, so the calls truly run in parallel and
 * SQLite's file locks, not Node's event loop, decide the winner.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { openSqliteStore } from '../../src/storage/sqlite.js';
import type { RaceJob, RaceReport } from './fixtures/race-worker.js';
import { codeRecord, grantRecord, T0, tokenRecord } from '../helpers/storage-records.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-race-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const WORKERS = 4;
const ITEMS = 50;

test('two connections to one file: a code consumed through one is a replay through the other', async (t) => {
  const file = join(dir, 'two.sqlite');
  const a = await openSqliteStore(file);
  t.after(() => a.close());
  const b = await openSqliteStore(file);
  t.after(() => b.close());
  const grant = grantRecord();
  await a.createGrant(grant);
  const code = codeRecord(grant);
  await a.saveCode(code);

  // Each store writes on its own thread: which one wins is not fixed, that exactly one does is.
  const [first, second] = await Promise.all([a.consumeCode(code.hash, T0 + 1), b.consumeCode(code.hash, T0 + 2)]);
  assert.deepEqual([first.status, second.status].sort(), ['ok', 'reused']);
  await b.revokeGrant(grant.id, T0 + 3);
  assert.equal((await a.getGrant(grant.id))?.revokedAt, T0 + 3);
});

test(`${WORKERS} threads race for ${ITEMS} codes and ${ITEMS} refresh tokens: each is won exactly once`, async (t) => {
  const file = join(dir, 'race.sqlite');
  const setup = await openSqliteStore(file);
  t.after(() => setup.close());
  const grant = grantRecord();
  await setup.createGrant(grant);
  const codes = Array.from({ length: ITEMS }, () => codeRecord(grant));
  const tokens = Array.from({ length: ITEMS }, () => tokenRecord(grant.id));
  for (const c of codes) await setup.saveCode(c);
  for (const tk of tokens) await setup.saveToken(tk);

  const gate = new SharedArrayBuffer(4);
  const job: RaceJob = {
    file,
    gate,
    codes: codes.map((c) => c.hash),
    refresh: tokens.map((tk) => ({ hash: tk.hash, grantId: tk.grantId })),
  };
  const workerFile = new URL('./fixtures/race-worker.js', import.meta.url);
  const workers = Array.from({ length: WORKERS }, () => new Worker(workerFile, { workerData: job }));
  t.after(() => Promise.all(workers.map((w) => w.terminate())));
  const reports = workers.map(
    (w) =>
      new Promise<RaceReport>((resolve, reject) => {
        w.on('message', (m: unknown) => {
          if (m !== 'ready') resolve(m as RaceReport);
        });
        w.once('error', reject);
      }),
  );
  await Promise.all(workers.map((w) => once(w, 'message')));
  const view = new Int32Array(gate);
  Atomics.store(view, 0, 1);
  Atomics.notify(view, 0);
  const results = await Promise.all(reports);

  for (let i = 0; i < ITEMS; i++) {
    const codeStatuses = results.map((r) => r.codes[i]).sort();
    assert.deepEqual(codeStatuses, ['ok', ...Array<string>(WORKERS - 1).fill('reused')], `code ${i}`);
    const refreshStatuses = results.map((r) => r.refresh[i]).sort();
    assert.deepEqual(refreshStatuses, ['ok', ...Array<string>(WORKERS - 1).fill('reused')], `refresh token ${i}`);
    // Only the winner's successor was stored.
    const successor = results.map((r) => r.successors[i]).find((s) => s !== null)!;
    assert.equal((await setup.findToken(successor))?.token.grantId, grant.id);
  }
});
