/**
 * A worker thread for the PostgreSQL race test: it opens its own store (its own pool, as
 * another Gatehouse process would), waits at a gate until every worker is ready, then tries
 * to redeem every code and rotate every refresh token it was given, all at once, and reports
 * what it got for each.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openPostgresStore } from '../../src/storage/postgres.js';
import { tokenRecord } from '../helpers/storage-records.js';

export interface PgRaceJob {
  readonly url: string;
  /** Int32Array[0]: 0 until the main thread opens the gate. */
  readonly gate: SharedArrayBuffer;
  readonly codes: readonly { readonly hash: string; readonly grantId: string }[];
  readonly refresh: readonly { readonly hash: string; readonly grantId: string }[];
}

export interface PgRaceReport {
  readonly codes: readonly string[];
  /** Hash of the access token this worker stored with each code it won, else null. */
  readonly bought: readonly (string | null)[];
  readonly refresh: readonly string[];
  /** Hashes of the successors this worker stored with an 'ok'. */
  readonly successors: readonly (string | null)[];
}

const job = workerData as PgRaceJob;
const store = await openPostgresStore(job.url);
// Warm the pool, so the race is between queries rather than between connection handshakes.
await Promise.all(Array.from({ length: 10 }, () => store.getGrant('warm-up')));
parentPort!.postMessage('ready');
Atomics.wait(new Int32Array(job.gate), 0, 0);

const [codeResults, refreshResults] = await Promise.all([
  Promise.all(
    job.codes.map(async ({ hash, grantId }) => {
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
  codes: codeResults.map((r) => r.status),
  bought: codeResults.map((r) => r.bought),
  refresh: refreshResults.map((r) => r.status),
  successors: refreshResults.map((r) => r.successor),
} satisfies PgRaceReport);
