/**
 * Private PostgreSQL schemas for the benchmarks: each setup gets `gh_bench_<random>`, carried
 * by the URL's `options=-c search_path=...`, created for it and dropped after it. The server is
 * GATEHOUSE_BENCH_PG_URL, else postgres://postgres@127.0.0.1:5432/test (trust authentication).
 * A run killed midway leaves its schema behind (`DROP SCHEMA gh_bench_... CASCADE`).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_URL = process.env['GATEHOUSE_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface BenchSchema {
  readonly name: string;
  /** PG_URL selecting the schema. */
  readonly url: string;
  /** The server's version and durability settings, for the notes. */
  readonly settings: string;
  drop(): Promise<void>;
}

/** A private schema on the PostgreSQL server, and the URL that selects it. */
export async function createSchema(): Promise<BenchSchema> {
  const name = `gh_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  admin.on('error', () => {});
  try {
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${name}`);
  } catch (err) {
    await admin.end().catch(() => {});
    throw err;
  }
  const show = async (k: string): Promise<string> => String((await admin.query(`SHOW ${k}`)).rows[0]?.[k] ?? '?');
  const settings = `PostgreSQL ${await show('server_version')} (fsync ${await show('fsync')}, synchronous_commit ${await show('synchronous_commit')}, shared_buffers ${await show('shared_buffers')})`;
  const u = new URL(PG_URL);
  u.searchParams.set('options', `-c search_path=${name}`);
  return {
    name,
    url: u.toString(),
    settings,
    async drop() {
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}
