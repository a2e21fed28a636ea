/**
 * A worker thread of the storage race harness (storage-race.ts): it opens its own store (its
 * own connection or pool, as another Gatehouse process would), waits at a gate until every
 * worker is ready, then tries to consume every code, redeem every other code and rotate every
 * refresh token it was given, all at once, and reports what it got for each.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openRaceStore, type RaceTarget } from './storage-race-target.js';
import { tokenRecord } from './storage-records.js';

export interface RaceJob {
  readonly target: RaceTarget;
  /** Int32Array[0]: 0 until the main thread opens the gate. */
  readonly gate: SharedArrayBuffer;
  /** Codes to take with consumeCode. */
  readonly consume: readonly string[];
  /** Codes to take with redeemCode (an access token stored with the win). */
  readonly redeem: readonly { readonly hash: string; readonly grantId: string }[];
  readonly refresh: readonly { readonly hash: string; readonly grantId: string }[];
}

export interface RaceReport {
  readonly consumed: readonly string[];
  readonly redeemed: readonly string[];
  /** Hash of the access token this worker stored with each code it redeemed, else null. */
  readonly bought: readonly (string | null)[];
  readonly refresh: readonly string[];
  /** Hashes of the successors this worker stored with an 'ok'. */
  readonly successors: readonly (string | null)[];
}

const job = workerData as RaceJob;
const store = await openRaceStore(job.target);
// Warm the store (a pool's connections), so the race is between queries rather than between
// connection handshakes.
await Promise.all(Array.from({ length: 10 }, () => store.getGrant('warm-up')));
parentPort!.postMessage('ready');
// Block until every worker has its store open, so the calls below truly overlap.
Atomics.wait(new Int32Array(job.gate), 0, 0);

const [consumed, redeemed, rotated] = await Promise.all([
  Promise.all(job.consume.map(async (hash) => (await store.consumeCode(hash, Date.now())).status)),
  Promise.all(
    job.redeem.map(async ({ hash, grantId }) => {
      const access = tokenRecord(grantId, { kind: 'access' });
      const r = await store.redeemCode(hash, Date.now(), [access]);
      return { status: r.status, bought: r.status === 'ok' ? access.hash : null };
    }),
  ),
  Promise.all(
    job.refresh.map(async ({ hash, grantId }) => {
      const successor = tokenRecord(grantId);
      const r = await store.rotateRefreshToken(hash, successor, Date.now());
      return { status: r.status, successor: r.status === 'ok' ? successor.hash : null };
    }),
  ),
]);
await store.close();
parentPort!.postMessage({
  consumed,
  redeemed: redeemed.map((r) => r.status),
  bought: redeemed.map((r) => r.bought),
  refresh: rotated.map((r) => r.status),
  successors: rotated.map((r) => r.successor),
} satisfies RaceReport);
