/**
 * Single use across processes on PostgreSQL: separate pools (as separate Gatehouse instances
 * would have) race for the same codes and refresh tokens. Worker threads give each pool its
 * own thread, so the calls truly overlap and the server's row locks, not Node's event loop,
 * decide the winner. Needs the server at PG_URL (postgres-schema.ts); fails without it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { openPostgresStore } from '../../src/storage/postgres.js';
import type { PgRaceJob, PgRaceReport } from './postgres-race-worker.js';
import { createTestSchema } from '../helpers/postgres.js';
import { codeRecord, grantRecord, T0, tokenRecord } from '../helpers/storage-records.js';

const db = await createTestSchema();
after(() => db.drop());

const WORKERS = 4;
const ITEMS = 50;

test(`postgres: two pools redeem the same ${ITEMS} codes at once: each is won exactly once`, async (t) => {
  const a = await openPostgresStore(db.url);
  t.after(() => a.close());
  const b = await openPostgresStore(db.url);
  t.after(() => b.close());
  const grant = grantRecord();
  await a.createGrant(grant);
  const codes = Array.from({ length: ITEMS }, () => codeRecord(grant));
  for (const c of codes) await a.saveCode(c);

  const redeem = (store: typeof a, hash: string, at: number) => {
    const access = tokenRecord(grant.id, { kind: 'access' });
    return store.redeemCode(hash, at, [access]).then((r) => ({ status: r.status, access: access.hash }));
  };
  const results = await Promise.all(codes.map((c) => Promise.all([redeem(a, c.hash, T0 + 1), redeem(b, c.hash, T0 + 2)])));
  for (const [i, pair] of results.entries()) {
    assert.deepEqual(pair.map((r) => r.status).sort(), ['ok', 'reused'], `code ${i}`);
    for (const r of pair) assert.equal((await a.findToken(r.access)) !== null, r.status === 'ok', `code ${i}: only the winner's token is stored`);
  }
  await b.revokeGrant(grant.id, T0 + 3);
  assert.equal((await a.getGrant(grant.id))?.revokedAt, T0 + 3);
});

test(`postgres: ${WORKERS} threads, each with its own pool, race for ${ITEMS} codes and ${ITEMS} refresh tokens: each is won exactly once`, async (t) => {
  const setup = await openPostgresStore(db.url);
  t.after(() => setup.close());
  const grant = grantRecord();
  await setup.createGrant(grant);
  const codes = Array.from({ length: ITEMS }, () => codeRecord(grant));
  const tokens = Array.from({ length: ITEMS }, () => tokenRecord(grant.id));
  for (const c of codes) await setup.saveCode(c);
  await setup.saveTokens(tokens);

  const gate = new SharedArrayBuffer(4);
  const job: PgRaceJob = {
    url: db.url,
    gate,
    codes: codes.map((c) => ({ hash: c.hash, grantId: c.grantId })),
    refresh: tokens.map((tk) => ({ hash: tk.hash, grantId: tk.grantId })),
  };
  const workerFile = new URL('./postgres-race-worker.js', import.meta.url);
  const workers = Array.from({ length: WORKERS }, () => new Worker(workerFile, { workerData: job }));
  t.after(() => Promise.all(workers.map((w) => w.terminate())));
  const reports = workers.map(
    (w) =>
      new Promise<PgRaceReport>((resolve, reject) => {
        w.on('message', (m: unknown) => {
          if (m !== 'ready') resolve(m as PgRaceReport);
        });
        w.once('error', reject);
      }),
  );
  await Promise.all(workers.map((w) => once(w, 'message')));
  const view = new Int32Array(gate);
  Atomics.store(view, 0, 1);
  Atomics.notify(view, 0);
  const results = await Promise.all(reports);

  const lost = ['ok', ...Array<string>(WORKERS - 1).fill('reused')];
  for (let i = 0; i < ITEMS; i++) {
    assert.deepEqual(results.map((r) => r.codes[i]).sort(), lost, `code ${i}`);
    assert.deepEqual(results.map((r) => r.refresh[i]).sort(), lost, `refresh token ${i}`);
    // Only the winners' tokens were stored.
    const bought = results.map((r) => r.bought[i]).filter((h) => h !== null);
    assert.equal(bought.length, 1);
    assert.equal((await setup.findToken(bought[0]!))?.token.kind, 'access');
    const successor = results.map((r) => r.successors[i]).find((s) => s !== null)!;
    assert.equal((await setup.findToken(successor))?.token.grantId, grant.id);
  }
  const { rows } = await db.admin<{ n: number }>(`SELECT count(*)::int AS n FROM ${db.schema}.tokens WHERE grant_id = $1`, [grant.id]);
  // The 50 original refresh tokens, 50 successors, 50 access tokens: nothing from a loser.
  assert.equal(rows[0]?.n, 3 * ITEMS);
});

test('postgres: revoking a grant while its codes are redeemed and its tokens rotated never deadlocks, and no winner is lost', async (t) => {
  const a = await openPostgresStore(db.url);
  t.after(() => a.close());
  const b = await openPostgresStore(db.url);
  t.after(() => b.close());
  const grant = grantRecord();
  await a.createGrant(grant);
  const codes = Array.from({ length: 30 }, () => codeRecord(grant));
  const tokens = Array.from({ length: 30 }, () => tokenRecord(grant.id));
  for (const c of codes) await a.saveCode(c);
  await a.saveTokens(tokens);

  const settled = await Promise.allSettled([
    ...codes.map((c, i) => a.redeemCode(c.hash, T0 + i, [tokenRecord(grant.id, { kind: 'access' })])),
    ...tokens.map((tk, i) => b.rotateRefreshToken(tk.hash, tokenRecord(grant.id), T0 + i)),
    b.revokeGrant(grant.id, T0 + 10),
    a.revokeGrant(grant.id, T0 + 11),
    b.revokeUserGrants(grant.host, grant.user, T0 + 12),
  ]);
  assert.deepEqual(settled.filter((s) => s.status === 'rejected'), []);
  const statuses = settled.slice(0, 60).map((s) => (s.status === 'fulfilled' && s.value !== undefined && typeof s.value === 'object' ? s.value.status : null));
  for (const s of statuses) assert.ok(s === 'ok' || s === 'revoked', `unexpected status ${s}`);
  // Whoever won kept it: a redeemed code reads 'reused' now, any other 'revoked'.
  for (const [i, c] of codes.entries()) {
    assert.equal((await a.consumeCode(c.hash, T0 + 20)).status, statuses[i] === 'ok' ? 'reused' : 'revoked', `code ${i}`);
  }
  assert.ok((await a.getGrant(grant.id))?.revokedAt !== null);
});
