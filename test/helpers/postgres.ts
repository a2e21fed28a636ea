/**
 * A private PostgreSQL schema per test file run, so that parallel test files and reruns never
 * see each other's tables. The server is required: when it is unreachable the test file fails
 * with an explicit error rather than skipping.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The test server: trust authentication, database `test`. */
export const PG_URL = process.env['GATEHOUSE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestSchema {
  readonly schema: string;
  /** PG_URL with the schema as its search_path. */
  readonly url: string;
  /** Runs one statement as the administrator, outside any store. */
  admin<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

/** The URL of `base` with `schema` as the connection's search_path. */
export function urlWithSchema(schema: string, base: string = PG_URL): string {
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/** Creates `gh_test_<random>` and returns its URL; throws loudly when PostgreSQL is unreachable. */
export async function createTestSchema(): Promise<TestSchema> {
  const schema = `gh_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
  } catch (err) {
    await admin.end().catch(() => {});
    throw new Error(`the PostgreSQL tests need a server at ${PG_URL} (set GATEHOUSE_TEST_PG_URL to use another): ${String(err)}`, { cause: err });
  }
  admin.on('error', () => {});
  return {
    schema,
    url: urlWithSchema(schema),
    admin: (sql, params) => admin.query(sql, params),
    async drop() {
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}
