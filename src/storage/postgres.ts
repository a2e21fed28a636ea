/**
 * The PostgreSQL store (DESIGN.md "Storage"), for a fleet of Gatehouse instances sharing one
 * database. Same contract as the SQLite store; enforces:
 * - codes, refresh tokens and device codes are single-use across every process and connection:
 *   a guarded UPDATE decides (rowCount 1 for exactly one caller), inside a transaction with the
 *   writes that must commit with it (redeemCode: consume, tokens, grant touch; rotateRefreshToken:
 *   spend, successor and access token);
 * - revoking a grant revokes what it issued, in the same transaction;
 * - a transaction that lost a deadlock or serialization check is retried (it was rolled back
 *   whole, so retrying cannot apply anything twice);
 * - every driver failure surfaces as a StorageError with the driver error as `cause`; a
 *   connection failure is ERR_STORAGE_UNAVAILABLE, so callers answer 503;
 * - the schema is migrated at open, once even when several instances start together.
 * Times are BIGINT milliseconds, parsed back to numbers by this pool's own INT8 parser.
 */
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import { StorageError } from './errors.js';
import { applyPostgresMigrations } from './migrations/apply-postgres.js';
import { POSTGRES_MIGRATIONS } from './migrations/postgres.js';
import type { AccountRevocation, CodeRecord, Consumed, DeviceRecord, Grant, OAuthStore, TokenRecord } from './port.js';
import { fromPgError, isConnectionError, isRetryable } from './postgres-errors.js';
import { SQL } from './postgres-statements.js';
import { splitCodeWithGrant, splitTokenWithGrant } from './with-grant.js';
import { EXPIRED_TOKEN_RETENTION_MS } from './sqlite.js';

export interface PostgresStoreOptions {
  /** Most connections the pool opens (default 10). */
  readonly maxConnections?: number;
  /** Server-side limit on one statement, ms (default 5000); past it the call fails as unavailable. */
  readonly statementTimeoutMs?: number;
  /** How long to wait for a connection, new or from the pool, ms (default 5000). */
  readonly connectionTimeoutMs?: number;
}

/** How many times a transaction that lost a deadlock or serialization check is run again. */
const TRANSACTION_ATTEMPTS = 3;

// INT8 (OID 20) comes back from node-postgres as a string by default. Times are milliseconds,
// far below 2^53, so a Number is exact. Set for this store's pool only, not globally.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

type Queryable = Pick<PoolClient, 'query'>;

/** An OAuthStore in a PostgreSQL database. Open it with {@link openPostgresStore}. */
export class PostgresStore implements OAuthStore {
  readonly #pool: pg.Pool;
  #closed = false;
  /** Schema version of the open database. */
  readonly schemaVersion: number;

  private constructor(pool: pg.Pool, schemaVersion: number) {
    this.#pool = pool;
    this.schemaVersion = schemaVersion;
  }

  /** Connects, and migrates the schema of the URL's search_path. Use {@link openPostgresStore}. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const statementTimeout = options.statementTimeoutMs ?? 5000;
    let pool: pg.Pool;
    try {
      pool = new pg.Pool({
        connectionString: url,
        max: options.maxConnections ?? 10,
        connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
        idleTimeoutMillis: 30_000,
        statement_timeout: statementTimeout,
        // A transaction left open by a stuck process must not hold row locks for ever.
        idle_in_transaction_session_timeout: Math.max(10_000, 2 * statementTimeout),
        // Client-side too: a dead network never answers, and no server timeout would fire.
        query_timeout: statementTimeout + 5000,
        keepAlive: true,
        application_name: 'gatehouse',
        types,
      });
    } catch (err) {
      // A malformed URL. Its text is not echoed: it may carry a password.
      throw new StorageError('ERR_STORAGE_UNSUPPORTED', 'invalid PostgreSQL database_url', { cause: err });
    }
    // An idle connection that breaks (server restart) is dropped by the pool; without these
    // listeners its 'error' event would crash the process.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    try {
      const client = await pool.connect();
      let broken: unknown;
      try {
        const { to } = await applyPostgresMigrations(client, POSTGRES_MIGRATIONS);
        return new PostgresStore(pool, to);
      } catch (err) {
        broken = isConnectionError(err) ? err : undefined;
        throw err;
      } finally {
        client.release(broken as Error | undefined);
      }
    } catch (err) {
      await pool.end().catch(() => {});
      const wrapped = fromPgError(err);
      if (!(wrapped instanceof StorageError)) throw wrapped;
      // The same code, with the server named for the operator (never the user or password).
      throw new StorageError(wrapped.code, `cannot open the PostgreSQL database${serverOf(url)}: ${wrapped.message}`, { cause: wrapped.cause ?? err });
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError('ERR_STORAGE_CLOSED');
  }

  /** One statement on any pooled connection. */
  async #query<R extends QueryResultRow = QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    this.#checkOpen();
    try {
      return await this.#pool.query<R>(sql, params);
    } catch (err) {
      throw this.#closed && !(err instanceof pg.DatabaseError) ? new StorageError('ERR_STORAGE_CLOSED') : fromPgError(err);
    }
  }

  /**
   * Runs `fn` in a READ COMMITTED transaction on one connection: committed when it returns,
   * rolled back when it throws. Rerun after a deadlock or serialization failure.
   */
  async #transaction<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    this.#checkOpen();
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient;
      try {
        client = await this.#pool.connect();
      } catch (err) {
        throw this.#closed ? new StorageError('ERR_STORAGE_CLOSED') : fromPgError(err);
      }
      let broken: unknown;
      try {
        await client.query('BEGIN');
        try {
          const value = await fn(client);
          await client.query('COMMIT');
          return value;
        } catch (err) {
          if (!isConnectionError(err)) {
            try {
              await client.query('ROLLBACK');
            } catch (rollbackErr) {
              // The connection broke meanwhile; the server rolls back on its own.
              broken = rollbackErr;
            }
          }
          throw err;
        }
      } catch (err) {
        if (isConnectionError(err)) broken ??= err;
        if (isRetryable(err) && attempt < TRANSACTION_ATTEMPTS) continue;
        throw fromPgError(err);
      } finally {
        // A broken connection is destroyed rather than handed to the next caller.
        client.release(broken as Error | undefined);
      }
    }
  }

  // Grants

  async createGrant(g: Grant): Promise<void> {
    // The account's row is made in a statement of its own (committed before the lock is
    // taken), so that the share lock below always has a row to hold (postgres-statements.ts).
    await this.#query(SQL.ensureAccount, [g.host, g.user]);
    await this.#transaction(async (c) => {
      const current = (await c.query<{ generation: number }>(SQL.lockGeneration, [g.host, g.user])).rows[0]?.generation ?? 0;
      const revokedAt = current === g.generation ? g.revokedAt : (g.revokedAt ?? g.createdAt);
      await c.query(SQL.insertGrant, [
        g.id, g.host, g.user, g.clientId, g.clientHash, g.clientName, g.clientUri, g.scope, g.createdAt, g.lastUsedAt, g.authTime, revokedAt, g.generation,
      ]);
    });
  }

  async getGrant(id: string): Promise<Grant | null> {
    return (await this.#query<Grant>(SQL.getGrant, [id])).rows[0] ?? null;
  }

  async listGrants(host: string, user: string): Promise<Grant[]> {
    return (await this.#query<Grant>(SQL.listGrants, [host, user])).rows;
  }

  async touchGrant(id: string, at: number): Promise<void> {
    await this.#query(SQL.touchGrant, [at, id]);
  }

  async revokeGrant(id: string, at: number): Promise<void> {
    await this.#transaction((c) => cascade(c, [id], at));
  }

  async revokeUserGrants(host: string, user: string, at: number): Promise<number> {
    return this.#transaction(async (c) => {
      const ids = (await c.query<{ id: string }>(SQL.userGrantIds, [host, user])).rows.map((r) => r.id);
      return ids.length === 0 ? 0 : cascade(c, ids, at);
    });
  }

  // Accounts

  async accountGeneration(host: string, user: string): Promise<number> {
    return (await this.#query<{ generation: number }>(SQL.accountGeneration, [host, user])).rows[0]?.generation ?? 0;
  }

  async revokeAccount(host: string, user: string, at: number, renew: boolean): Promise<AccountRevocation> {
    return this.#transaction(async (c) => {
      // The row lock first: grants made from here on read the generation after this commits.
      const generation = (await c.query<{ generation: number }>(renew ? SQL.renewGeneration : SQL.holdGeneration, [host, user])).rows[0]!.generation;
      const ids = (await c.query<{ id: string }>(SQL.userGrantIds, [host, user])).rows.map((r) => r.id);
      const revoked = ids.length === 0 ? 0 : await cascade(c, ids, at);
      await c.query(SQL.endSessions, [host, user, at]);
      return { revoked, generation };
    });
  }

  // Tokens

  async saveToken(token: TokenRecord): Promise<void> {
    await this.#query(SQL.insertToken, tokenParams(token));
  }

  async findToken(hash: string): Promise<{ token: TokenRecord; grant: Grant } | null> {
    // One statement, so the token and its grant come from one snapshot.
    const r = (await this.#query<Record<string, unknown>>(SQL.getTokenWithGrant, [hash])).rows[0];
    return r === undefined ? null : splitTokenWithGrant(r);
  }

  async revokeToken(hash: string, at: number): Promise<void> {
    await this.#query(SQL.revokeToken, [at, hash]);
  }

  async rotateRefreshToken(oldHash: string, successor: TokenRecord | null, at: number, also: readonly TokenRecord[] = []): Promise<Consumed<TokenRecord>> {
    if (successor !== null && successor.kind !== 'refresh') throw new TypeError('the successor of a refresh token must be a refresh token');
    const fresh = successor === null ? also : [successor, ...also];
    const grantId = fresh[0]?.grantId;
    if (grantId !== undefined && fresh.some((t) => t.grantId !== grantId)) throw new TypeError('the successor of a refresh token must belong to the same grant');
    // With tokens to insert, one statement (SQL.rotateRefreshToken): their grant is known, and
    // the old token is used only if it belongs to it.
    const won =
      grantId === undefined
        ? (await this.#query<TokenRecord>(SQL.useRefreshToken, [at, oldHash])).rows[0]
        : (await this.#query<TokenRecord>(SQL.rotateRefreshToken, [at, oldHash, grantId, ...tokenColumns(fresh)])).rows[0];
    if (won !== undefined) return { status: 'ok', record: won };
    // Lost, or not usable: a statement of its own sees what the winner (if any) committed.
    const record = (await this.#query<TokenRecord>(SQL.getToken, [oldHash])).rows[0];
    if (record === undefined || record.kind !== 'refresh') return { status: 'missing' };
    if (grantId !== undefined && record.grantId !== grantId) throw new TypeError('the successor of a refresh token must belong to the same grant');
    return { status: record.usedAt !== null ? 'reused' : 'revoked', record };
  }

  async saveTokens(tokens: readonly TokenRecord[]): Promise<void> {
    if (tokens.length === 0) return this.#checkOpen();
    // One statement: atomic without a transaction around it.
    await this.#query(SQL.insertTokens, tokenColumns(tokens));
  }

  // Authorization codes

  async saveCode(code: CodeRecord): Promise<void> {
    await this.#query(SQL.insertCode, [
      code.hash, code.grantId, code.clientHash, code.redirectUri, code.codeChallenge, code.scope, code.nonce, code.createdAt,
      code.expiresAt, code.consumedAt,
    ]);
  }

  // A single guarded UPDATE is atomic on its own. When it loses, the reason it reads next is
  // stable: a consumed or revoked code never becomes consumable again.
  async consumeCode(hash: string, at: number): Promise<Consumed<CodeRecord>> {
    const won = (await this.#query<CodeRecord>(SQL.consumeCode, [at, hash])).rows[0];
    if (won !== undefined) return { status: 'ok', record: won };
    return lostCode((await this.#query<CodeRecord>(SQL.getCode, [hash])).rows[0]);
  }

  async findCode(hash: string): Promise<CodeRecord | null> {
    return (await this.#query<CodeRecord>(SQL.getCode, [hash])).rows[0] ?? null;
  }

  async findCodeWithGrant(hash: string): Promise<{ code: CodeRecord; grant: Grant } | null> {
    const r = (await this.#query<Record<string, unknown>>(SQL.getCodeWithGrant, [hash])).rows[0];
    return r === undefined ? null : splitCodeWithGrant(r);
  }

  async redeemCode(hash: string, at: number, tokens: readonly TokenRecord[]): Promise<Consumed<CodeRecord>> {
    const grantId = tokens[0]?.grantId;
    if (grantId === undefined) {
      // No token to buy (not a path of the token endpoint): consume and touch, in a transaction.
      return this.#transaction(async (c) => {
        const won = (await c.query<CodeRecord>(SQL.consumeCode, [at, hash])).rows[0];
        if (won === undefined) return lostCode((await c.query<CodeRecord>(SQL.getCode, [hash])).rows[0]);
        await c.query(SQL.touchGrant, [at, won.grantId]);
        return { status: 'ok', record: won };
      });
    }
    if (tokens.some((t) => t.grantId !== grantId)) throw new TypeError('tokens bought by a code must belong to its grant');
    // One statement (SQL.redeemCode): a single round trip instead of a transaction of five.
    const won = (await this.#query<CodeRecord>(SQL.redeemCode, [at, hash, grantId, ...tokenColumns(tokens)])).rows[0];
    if (won !== undefined) return { status: 'ok', record: won };
    // Lost, or not redeemable: a statement of its own sees what the winner (if any) committed.
    const record = (await this.#query<CodeRecord>(SQL.getCode, [hash])).rows[0];
    if (record !== undefined && record.grantId !== grantId) throw new TypeError('tokens bought by a code must belong to its grant');
    return lostCode(record);
  }

  // Device codes

  async saveDevice(d: DeviceRecord): Promise<void> {
    await this.#query(SQL.insertDevice, [
      d.deviceHash, d.userCode, d.host, d.clientHash, d.clientId, d.scope, d.createdAt, d.expiresAt, d.interval, d.lastPollAt, d.status, d.grantId,
    ]);
  }

  async findDeviceByUserCode(userCode: string): Promise<DeviceRecord | null> {
    return (await this.#query<DeviceRecord>(SQL.getDeviceByUserCode, [userCode])).rows[0] ?? null;
  }

  async findDevice(deviceHash: string): Promise<DeviceRecord | null> {
    return (await this.#query<DeviceRecord>(SQL.getDevice, [deviceHash])).rows[0] ?? null;
  }

  // Each transition is one guarded UPDATE, atomic on its own.
  async decideDevice(deviceHash: string, decision: { approved: true; grantId: string } | { approved: false }): Promise<boolean> {
    const r = decision.approved
      ? await this.#query(SQL.approveDevice, [decision.grantId, deviceHash])
      : await this.#query(SQL.denyDevice, [deviceHash]);
    return r.rowCount === 1;
  }

  async pollDevice(deviceHash: string, at: number, interval: number): Promise<DeviceRecord | null> {
    return this.#transaction(async (c) => {
      // Locked, so that of two racing polls each sees the other's poll or none, never half.
      const before = (await c.query<DeviceRecord>(SQL.getDeviceForUpdate, [deviceHash])).rows[0];
      if (before === undefined) return null;
      await c.query(SQL.pollDevice, [at, interval, deviceHash]);
      return before;
    });
  }

  async consumeDevice(deviceHash: string): Promise<boolean> {
    return (await this.#query(SQL.consumeDevice, [deviceHash])).rowCount === 1;
  }

  // Throttling

  async hitFailure(key: string, at: number, windowMs: number): Promise<number> {
    if (!Number.isSafeInteger(windowMs) || windowMs <= 0) throw new TypeError(`windowMs must be a positive integer, got ${windowMs}`);
    return (await this.#query<{ failures: number }>(SQL.hitFailure, [key, at, windowMs])).rows[0]!.failures;
  }

  async endSessions(host: string, user: string, at: number): Promise<void> {
    await this.#query(SQL.endSessions, [host, user, at]);
  }

  async sessionsNotBefore(host: string, user: string): Promise<number> {
    return (await this.#query<{ not_before: number }>(SQL.sessionsNotBefore, [host, user])).rows[0]?.not_before ?? 0;
  }

  async failuresOf(key: string, at: number): Promise<number> {
    return (await this.#query<{ failures: number }>(SQL.failuresOf, [key, at])).rows[0]?.failures ?? 0;
  }

  async clearFailures(key: string): Promise<void> {
    await this.#query(SQL.clearFailures, [key]);
  }

  async sweep(at: number): Promise<void> {
    await this.#transaction(async (c) => {
      await c.query(SQL.sweepCodes, [at]);
      await c.query(SQL.sweepDevices, [at]);
      await c.query(SQL.sweepThrottle, [at]);
      await c.query(SQL.sweepTokens, [at - EXPIRED_TOKEN_RETENTION_MS]);
      await c.query(SQL.sweepGrants, [at - EXPIRED_TOKEN_RETENTION_MS]);
    });
  }

  /**
   * Closes the pool once the calls in flight have finished; later calls reject with
   * ERR_STORAGE_CLOSED. Closing twice is harmless.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end().catch(() => {});
  }
}

/** Revokes the grants `ids` with their cascade; returns how many grants were live. */
async function cascade(c: Queryable, ids: readonly string[], at: number): Promise<number> {
  // Codes, tokens and devices first, then the grants: see postgres-statements.ts. Run even
  // when a grant was already revoked: it catches a token saved by a request that raced with
  // the first revocation.
  await c.query(SQL.revokeGrantCodes, [at, ids]);
  await c.query(SQL.revokeGrantTokens, [at, ids]);
  await c.query(SQL.denyGrantDevices, [ids]);
  return (await c.query(SQL.revokeGrants, [at, ids])).rowCount ?? 0;
}

/** Why a guarded consumption of a code refused it. */
function lostCode(record: CodeRecord | undefined): Consumed<CodeRecord> {
  if (record === undefined) return { status: 'missing' };
  // The UPDATE refuses only a consumed code or a revoked one (the code or its grant).
  return { status: record.consumedAt !== null ? 'reused' : 'revoked', record };
}

function tokenParams(t: TokenRecord): unknown[] {
  return [t.hash, t.kind, t.grantId, t.scope, t.createdAt, t.expiresAt, t.revokedAt, t.usedAt];
}

/** The parameters of SQL.insertTokens: one array per column. */
function tokenColumns(tokens: readonly TokenRecord[]): unknown[][] {
  return [
    tokens.map((t) => t.hash),
    tokens.map((t) => t.kind),
    tokens.map((t) => t.grantId),
    tokens.map((t) => t.scope),
    tokens.map((t) => t.createdAt),
    tokens.map((t) => t.expiresAt),
    tokens.map((t) => t.revokedAt),
    tokens.map((t) => t.usedAt),
  ];
}


/** " at host:port/db" for messages, without user or password; empty when the URL does not parse. */
function serverOf(url: string): string {
  try {
    const u = new URL(url);
    return ` at ${u.host}${u.pathname}`;
  } catch {
    return '';
  }
}

/**
 * Opens the PostgreSQL store at `url` (postgres:// or postgresql://), applying pending
 * migrations. Tables live in the first schema of the connection's search_path; to use another
 * schema than `public`, add `?options=-c%20search_path%3Dgatehouse` to the URL.
 *
 * @example
 * const store = await openPostgresStore('postgres://gatehouse@db.internal/gatehouse');
 * const r = await store.redeemCode(hash, Date.now(), [access, refresh]);
 * if (r.status !== 'ok') throw new OAuthError('invalid_grant');
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  return PostgresStore.open(url, options);
}
