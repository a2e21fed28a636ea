/**
 * The SQL of the SQLite store, prepared once per connection. SELECTs alias columns to the
 * record field names of port.ts, so a row is the record with no mapping code in between;
 * INSERTs bind a record's fields by name. The guarded UPDATEs (`... IS NULL` in the WHERE
 * clause) are what make codes, refresh tokens and device codes single-use: SQLite runs each
 * UPDATE atomically, so of two racing callers only one sees `changes === 1`.
 */
import type { Database } from 'better-sqlite3';
import type { CodeRecord, DeviceRecord, Grant, TokenRecord } from './port.js';
import { CODE_WITH_GRANT_SELECT, TOKEN_WITH_GRANT_SELECT } from './with-grant.js';

const GRANT = `id, host, username AS user, client_id AS clientId, client_hash AS clientHash,
  client_name AS clientName, client_uri AS clientUri, scope, created_at AS createdAt,
  last_used_at AS lastUsedAt, auth_time AS authTime, revoked_at AS revokedAt, generation`;

const TOKEN = `hash, kind, grant_id AS grantId, scope, created_at AS createdAt,
  expires_at AS expiresAt, revoked_at AS revokedAt, used_at AS usedAt`;

const CODE = `hash, grant_id AS grantId, client_hash AS clientHash, redirect_uri AS redirectUri,
  code_challenge AS codeChallenge, scope, nonce, created_at AS createdAt, expires_at AS expiresAt,
  consumed_at AS consumedAt`;

const DEVICE = `device_hash AS deviceHash, user_code AS userCode, host, client_hash AS clientHash,
  client_id AS clientId, scope, created_at AS createdAt, expires_at AS expiresAt,
  poll_interval AS interval, last_poll_at AS lastPollAt, status, grant_id AS grantId`;

// True when the grant of the row being updated is revoked; the foreign key guarantees it exists.
const GRANT_REVOKED = (table: string) => `(SELECT revoked_at FROM grants WHERE id = ${table}.grant_id) IS NOT NULL`;

/** The part of a better-sqlite3 statement the store uses, under a name declarations can export. */
export interface Statement<P extends unknown[], R = unknown> {
  run(...params: P): { changes: number };
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

/** Prepares every statement of the store; call once per connection. */
export function prepareStatements(db: Database) {
  // `pluck`: the rows are a single column's values rather than objects.
  // (better-sqlite3 throws if pluck() is called on a statement that returns no rows.)
  const prepare = <P extends unknown[], R = unknown>(sql: string, pluck = false): Statement<P, R> => {
    const statement = db.prepare<P, R>(sql);
    return pluck ? statement.pluck() : statement;
  };
  return {
    // Grants
    // Made for a generation that is no longer the account's: stored revoked (port.ts). One
    // statement, so no revokeAccount commits between the read and the write.
    insertGrant: prepare<[Grant]>(`INSERT INTO grants
      (id, host, username, client_id, client_hash, client_name, client_uri, scope, created_at, last_used_at, auth_time, revoked_at, generation)
      VALUES (@id, @host, @user, @clientId, @clientHash, @clientName, @clientUri, @scope, @createdAt, @lastUsedAt, @authTime,
        iif(@generation = coalesce((SELECT generation FROM account_generations WHERE host = @host AND username = @user), 0),
          @revokedAt, coalesce(@revokedAt, @createdAt)),
        @generation)`),
    getGrant: prepare<[string], Grant>(`SELECT ${GRANT} FROM grants WHERE id = ?`),
    // The tie-breakers make the order total, so two instances list the same grants alike.
    listGrants: prepare<[string, string], Grant>(`SELECT ${GRANT} FROM grants
      WHERE host = ? AND username = ? AND revoked_at IS NULL ORDER BY last_used_at DESC, created_at DESC, id`),
    userGrantIds: prepare<[string, string], string>('SELECT id FROM grants WHERE host = ? AND username = ?', true),
    // max(): a late, out-of-order touch never moves last use backwards.
    touchGrant: prepare<[number, string]>('UPDATE grants SET last_used_at = max(last_used_at, ?) WHERE id = ?'),
    revokeGrant: prepare<[number, string]>('UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    revokeGrantTokens: prepare<[number, string]>('UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL'),
    // Consumed codes are left as they are, so a later replay still reads as 'reused'.
    revokeGrantCodes: prepare<[number, string]>(
      'UPDATE codes SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL AND consumed_at IS NULL',
    ),
    // A device approved but not yet redeemed loses its approval: its next poll reads 'denied'.
    denyGrantDevices: prepare<[string]>(`UPDATE devices SET status = 'denied' WHERE grant_id = ? AND status = 'approved'`),

    // Tokens
    insertToken: prepare<[TokenRecord]>(`INSERT INTO tokens
      (hash, kind, grant_id, scope, created_at, expires_at, revoked_at, used_at)
      VALUES (@hash, @kind, @grantId, @scope, @createdAt, @expiresAt, @revokedAt, @usedAt)`),
    getToken: prepare<[string], TokenRecord>(`SELECT ${TOKEN} FROM tokens WHERE hash = ?`),
    getTokenWithGrant: prepare<[string], Record<string, unknown>>(`${TOKEN_WITH_GRANT_SELECT}?`),
    revokeToken: prepare<[number, string]>('UPDATE tokens SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL'),
    useRefreshToken: prepare<[number, string]>(`UPDATE tokens SET used_at = ?
      WHERE hash = ? AND kind = 'refresh' AND used_at IS NULL AND revoked_at IS NULL AND NOT ${GRANT_REVOKED('tokens')}`),

    // Authorization codes
    insertCode: prepare<[CodeRecord]>(`INSERT INTO codes
      (hash, grant_id, client_hash, redirect_uri, code_challenge, scope, nonce, created_at, expires_at, consumed_at)
      VALUES (@hash, @grantId, @clientHash, @redirectUri, @codeChallenge, @scope, @nonce, @createdAt, @expiresAt, @consumedAt)`),
    getCode: prepare<[string], CodeRecord>(`SELECT ${CODE} FROM codes WHERE hash = ?`),
    getCodeWithGrant: prepare<[string], Record<string, unknown>>(`${CODE_WITH_GRANT_SELECT}?`),
    consumeCode: prepare<[number, string]>(`UPDATE codes SET consumed_at = ?
      WHERE hash = ? AND consumed_at IS NULL AND revoked_at IS NULL AND NOT ${GRANT_REVOKED('codes')}`),
    // The same guarded UPDATE, answering with the code it consumed: no second read on success.
    consumeCodeReturning: prepare<[number, string], CodeRecord>(`UPDATE codes SET consumed_at = ?
      WHERE hash = ? AND consumed_at IS NULL AND revoked_at IS NULL AND NOT ${GRANT_REVOKED('codes')}
      RETURNING ${CODE}`),

    // Device codes
    insertDevice: prepare<[DeviceRecord]>(`INSERT INTO devices
      (device_hash, user_code, host, client_hash, client_id, scope, created_at, expires_at, poll_interval, last_poll_at, status, grant_id)
      VALUES (@deviceHash, @userCode, @host, @clientHash, @clientId, @scope, @createdAt, @expiresAt, @interval, @lastPollAt, @status, @grantId)`),
    getDevice: prepare<[string], DeviceRecord>(`SELECT ${DEVICE} FROM devices WHERE device_hash = ?`),
    getDeviceByUserCode: prepare<[string], DeviceRecord>(`SELECT ${DEVICE} FROM devices WHERE user_code = ?`),
    approveDevice: prepare<[string, string]>(`UPDATE devices SET status = 'approved', grant_id = ? WHERE device_hash = ? AND status = 'pending'`),
    denyDevice: prepare<[string]>(`UPDATE devices SET status = 'denied' WHERE device_hash = ? AND status = 'pending'`),
    pollDevice: prepare<[number, number, string]>('UPDATE devices SET last_poll_at = ?, poll_interval = ? WHERE device_hash = ?'),
    // The grant check covers an approval that raced with the grant's revocation.
    consumeDevice: prepare<[string]>(`UPDATE devices SET status = 'consumed'
      WHERE device_hash = ? AND status = 'approved' AND NOT ${GRANT_REVOKED('devices')}`),

    // Throttling. One statement, so concurrent failures from several instances never lose a
    // count. In DO UPDATE, bare column names are the stored row and every SET expression sees
    // the values from before the update.
    hitFailure: prepare<[{ key: string; at: number; windowMs: number }], number>(`
      INSERT INTO throttle (throttle_key, failures, window_start, expires_at) VALUES (@key, 1, @at, @at + @windowMs)
      ON CONFLICT (throttle_key) DO UPDATE SET
        failures     = iif(expires_at <= excluded.window_start, 1, failures + 1),
        window_start = iif(expires_at <= excluded.window_start, excluded.window_start, window_start),
        expires_at   = iif(expires_at <= excluded.window_start, excluded.expires_at, expires_at)
      RETURNING failures`, true),
    accountGeneration: prepare<[string, string], number>('SELECT generation FROM account_generations WHERE host = ? AND username = ?', true),
    renewGeneration: prepare<[string, string], number>(`INSERT INTO account_generations (host, username, generation) VALUES (?, ?, 1)
      ON CONFLICT (host, username) DO UPDATE SET generation = generation + 1 RETURNING generation`, true),
    endSessions: prepare<[string, string, number]>(`INSERT INTO session_cutoffs (host, username, not_before) VALUES (?, ?, ?)
      ON CONFLICT (host, username) DO UPDATE SET not_before = max(not_before, excluded.not_before)`),
    sessionsNotBefore: prepare<[string, string], number>('SELECT not_before FROM session_cutoffs WHERE host = ? AND username = ?', true),
    failuresOf: prepare<[string, number], number>('SELECT failures FROM throttle WHERE throttle_key = ? AND expires_at > ?', true),
    clearFailures: prepare<[string]>('DELETE FROM throttle WHERE throttle_key = ?'),

    // Sweeping
    sweepCodes: prepare<[number]>('DELETE FROM codes WHERE expires_at <= ?'),
    sweepDevices: prepare<[number]>('DELETE FROM devices WHERE expires_at <= ?'),
    sweepThrottle: prepare<[number]>('DELETE FROM throttle WHERE expires_at <= ?'),
    sweepTokens: prepare<[number]>('DELETE FROM tokens WHERE expires_at <= ?'),
    // After sweepTokens, sweepCodes and sweepDevices, in the same transaction (port.ts sweep).
    sweepGrants: prepare<[number]>(
      'DELETE FROM grants WHERE last_used_at <= ? AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = grants.id) AND NOT EXISTS (SELECT 1 FROM codes c WHERE c.grant_id = grants.id) AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.grant_id = grants.id)',
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
