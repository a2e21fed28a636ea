/** Where the storage race harness's stores live: a SQLite file or a PostgreSQL schema. */
import Database from 'better-sqlite3';
import pg from 'pg';
import { openPostgresStore } from '../../src/storage/postgres.js';
import type { OAuthStore } from '../../src/storage/port.js';
import { openSqliteStore } from '../../src/storage/sqlite-open.js';

export type RaceTarget = { readonly kind: 'sqlite'; readonly file: string } | { readonly kind: 'postgres'; readonly url: string };

/** A store of its own on `target`: a connection to the file, or a pool to the server. */
export function openRaceStore(target: RaceTarget): Promise<OAuthStore> {
  return target.kind === 'sqlite' ? openSqliteStore(target.file) : openPostgresStore(target.url);
}

/** How many tokens `grantId` has, read outside any store. */
export async function countTokens(target: RaceTarget, grantId: string): Promise<number> {
  if (target.kind === 'sqlite') {
    const db = new Database(target.file, { readonly: true });
    try {
      return db.prepare('SELECT count(*) FROM tokens WHERE grant_id = ?').pluck().get(grantId) as number;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM tokens WHERE grant_id = $1', [grantId]);
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}
