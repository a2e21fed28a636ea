/**
 * The storage contract against SQLite: a private in-memory database, and a file reopened
 * between tests, with its writes on a writer thread (the default) and on the calling thread.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openSqliteStore } from '../../src/storage/sqlite-open.js';
import { storeContract } from '../helpers/storage-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

storeContract('sqlite :memory:', () => openSqliteStore(':memory:'));

// Every open() reaches the same file, like instances restarting on one data directory.
const file = join(dir, 'contract.sqlite');
storeContract('sqlite file', () => openSqliteStore(file), { persistent: true });
storeContract('sqlite file, inline writes', () => openSqliteStore(file, { writer: 'inline' }), { persistent: true });
