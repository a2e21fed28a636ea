/**
 * Single use across processes, the same for every store: separate stores on one database (as
 * separate Gatehouse instances would have: connections to one SQLite file, or pools to one
 * PostgreSQL schema) race for the same codes and refresh tokens. Worker threads give each
 * store its own thread, so the calls truly overlap and the database's locks, not Node's event
 * loop, decide the winner. test/storage/race.test.ts runs it against SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { OAuthStore } from '../../src/storage/port.js';
import { countTokens, openRaceStore, type RaceTarget } from './storage-race-target.js';
import type { RaceJob, RaceReport } from './storage-race-worker.js';
import { codeRecord, grantRecord, T0, tokenRecord } from './storage-records.js';

export type { RaceTarget } from './storage-race-target.js';

const WORKERS = 4;
const ITEMS = 50;

/** Opens a store on `target` and closes it after the test. */
async function open(t: { after(fn: () => Promise<void>): void }, target: RaceTarget): Promise<OAuthStore> {
  const store = await openRaceStore(target);
  t.after(() => store.close());
  return store;
}

/**
 * Registers the race tests for one database, prefixed with `name`. `target(label)` gives
 * where a test's stores meet: the same for every store of one test (a file per label for
 * SQLite; the schema for PostgreSQL).
 */
export function storageRaceTests(name: string, target: (label: string) => RaceTarget): void {
  test(`${name}: two stores on one database: a code consumed through one is a replay through the other`, async (t) => {
    const where = target('two');
    const a = await open(t, where);
    const b = await open(t, where);
    const grant = grantRecord();
    await a.createGrant(grant);
    const code = codeRecord(grant);
    await a.saveCode(code);

    // Which one wins is not fixed, that exactly one does is.
    const [first, second] = await Promise.all([a.consumeCode(code.hash, T0 + 1), b.consumeCode(code.hash, T0 + 2)]);
    assert.deepEqual([first.status, second.status].sort(), ['ok', 'reused']);
    await b.revokeGrant(grant.id, T0 + 3);
    assert.equal((await a.getGrant(grant.id))?.revokedAt, T0 + 3);
  });

  test(`${name}: two stores redeem the same ${ITEMS} codes at once: each is won exactly once`, async (t) => {
    const where = target('redeem');
    const a = await open(t, where);
    const b = await open(t, where);
    const grant = grantRecord();
    await a.createGrant(grant);
    const codes = Array.from({ length: ITEMS }, () => codeRecord(grant));
    for (const c of codes) await a.saveCode(c);

    const redeem = (store: OAuthStore, hash: string, at: number) => {
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

  test(`${name}: ${WORKERS} threads, each with its own store, race for ${2 * ITEMS} codes and ${ITEMS} refresh tokens: each is won exactly once`, async (t) => {
    const where = target('threads');
    const setup = await open(t, where);
    const grant = grantRecord();
    await setup.createGrant(grant);
    const toConsume = Array.from({ length: ITEMS }, () => codeRecord(grant));
    const toRedeem = Array.from({ length: ITEMS }, () => codeRecord(grant));
    const tokens = Array.from({ length: ITEMS }, () => tokenRecord(grant.id));
    for (const c of [...toConsume, ...toRedeem]) await setup.saveCode(c);
    await setup.saveTokens(tokens);

    const gate = new SharedArrayBuffer(4);
    const job: RaceJob = {
      target: where,
      gate,
      consume: toConsume.map((c) => c.hash),
      redeem: toRedeem.map((c) => ({ hash: c.hash, grantId: c.grantId })),
      refresh: tokens.map((tk) => ({ hash: tk.hash, grantId: tk.grantId })),
    };
    const workerFile = new URL('./storage-race-worker.js', import.meta.url);
    const workers = Array.from({ length: WORKERS }, () => new Worker(workerFile, { workerData: job }));
    t.after(() => Promise.all(workers.map((w) => w.terminate())).then(() => undefined));
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

    const lost = ['ok', ...Array<string>(WORKERS - 1).fill('reused')];
    for (let i = 0; i < ITEMS; i++) {
      assert.deepEqual(results.map((r) => r.consumed[i]).sort(), lost, `consumed code ${i}`);
      assert.deepEqual(results.map((r) => r.redeemed[i]).sort(), lost, `redeemed code ${i}`);
      assert.deepEqual(results.map((r) => r.refresh[i]).sort(), lost, `refresh token ${i}`);
      // Only the winners' tokens were stored.
      const bought = results.map((r) => r.bought[i]).filter((h) => h !== null);
      assert.equal(bought.length, 1);
      assert.equal((await setup.findToken(bought[0]!))?.token.kind, 'access');
      const successor = results.map((r) => r.successors[i]).find((s) => s !== null)!;
      assert.equal((await setup.findToken(successor))?.token.grantId, grant.id);
    }
    // The original refresh tokens, their successors, the access tokens: nothing from a loser.
    assert.equal(await countTokens(where, grant.id), 3 * ITEMS);
  });

  test(`${name}: revoking a grant while its codes are redeemed and its tokens rotated never deadlocks, and no winner is lost`, async (t) => {
    const where = target('revoke');
    const a = await open(t, where);
    const b = await open(t, where);
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
}
