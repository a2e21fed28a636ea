/**
 * The storage race harness (test/helpers/storage-race.ts), run against both databases:
 * connections to one SQLite file, and pools to one PostgreSQL schema. Needs the server at
 * PG_URL (test/helpers/postgres.ts); fails without it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { createTestSchema } from '../helpers/postgres.js';
import { storageRaceTests } from '../helpers/storage-race.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-race-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const db = await createTestSchema();
after(() => db.drop());

storageRaceTests('sqlite', (label) => ({ kind: 'sqlite', file: join(dir, `${label}.sqlite`) }));
storageRaceTests('postgres', () => ({ kind: 'postgres', url: db.url }));
