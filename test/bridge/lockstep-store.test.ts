/**
 * The lockstep bridge when the accounts hang before the script is asked: the failure counters
 * live in PostgreSQL (several instances count together) and the database does not answer (a
 * lock held on their table). The engine never sees the query, so its deadline cannot end it:
 * the bridge's own timer must abandon it at the caller's deadline, so that the caller's next
 * query is asked, not taken for a desync and answered "no".
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import pg from 'pg';
import { Accounts } from '../../src/accounts/accounts.js';
import { servedQueryLimits } from '../../src/bridge/bridge.js';
import { runLockstepBridge } from '../../src/bridge/lockstep.js';
import { parseConfigText } from '../../src/config/load.js';
import { openPostgresStore } from '../../src/storage/postgres.js';
import { fixtureCommand } from '../helpers/bridge.js';
import { waitFor } from '../helpers/engine.js';
import { fixture } from '../helpers/paths.js';
import { createTestSchema } from '../helpers/postgres.js';

const CALLER_TIMEOUT_MS = 1000;

test('lockstep: a query whose failure counters hang in the database is abandoned at the deadline, and the next query is asked', async (t) => {
  // One cleanup, in this order: the lock goes first, or the schema's drop would wait for it.
  const cleanups: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const schema = await createTestSchema();
  cleanups.push(() => schema.drop());
  // No statement timeout within the test: only the bridge's own timer can end the wait.
  const store = await openPostgresStore(schema.url, { statementTimeoutMs: 300_000 });
  cleanups.push(() => store.close());
  const accounts = new Accounts(parseConfigText(`${fixtureCommand(fixture('fast.mjs'))}\nexternal_auth_processes = 1`), undefined, undefined, store);
  cleanups.push(() => accounts.close());

  const input = new PassThrough();
  const written: string[] = [];
  const events: string[] = [];
  const run = runLockstepBridge({
    input,
    write: (b) => void written.push(b.toString()),
    protocol: 'generic',
    accounts,
    limits: servedQueryLimits(accounts),
    callerTimeoutMs: CALLER_TIMEOUT_MS,
    onEvent: (e) => events.push(e),
  });

  // Positive control: with the database answering, the query is asked and answered.
  input.write('auth:alice:localhost:secret\n');
  assert.ok(await waitFor(() => written.length === 1), 'answered while the database answers');
  assert.deepEqual(written, ['1\n']);

  // Another session holds the failure counters' table: reading them waits.
  const locker = new pg.Client({ connectionString: schema.url });
  await locker.connect();
  let locked = true;
  const unlock = async (): Promise<void> => {
    if (!locked) return;
    locked = false;
    await locker.query('COMMIT');
  };
  cleanups.push(async () => {
    await unlock();
    await locker.end();
  });
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE throttle IN ACCESS EXCLUSIVE MODE');

  input.write('auth:alice:localhost:secret\n');
  // Wait as long as the caller does. The bridge's timer for this query is due earlier (its
  // deadline keeps a margin), and Node runs timers in the order they are due: by the time this
  // wait ends, the query has been abandoned, however slow the machine.
  await new Promise((r) => setTimeout(r, CALLER_TIMEOUT_MS));
  assert.deepEqual(events, ['abandoned'], "abandoned by the caller's deadline");
  assert.deepEqual(written, ['1\n'], 'nothing written for the query that hung');

  // The database answers again; the caller's next query is a new one, asked and answered.
  await unlock();
  input.write('auth:alice:localhost:secret\n');
  assert.ok(await waitFor(() => written.length === 2), 'the next query answered');
  assert.deepEqual(written, ['1\n', '1\n']);
  assert.deepEqual(events, ['abandoned'], 'no desync');
  input.end();
  const stats = await run;
  assert.equal(stats.desyncs, 0);
});
