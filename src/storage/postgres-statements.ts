/**
 * The SQL of the PostgreSQL store. SELECTs and RETURNING clauses alias columns to the record
 * field names of port.ts (quoted: PostgreSQL folds unquoted names to lower case), so a row is
 * the record. The guarded UPDATEs (`... IS NULL` in the WHERE clause) make codes, refresh
 * tokens and device codes single-use: a second UPDATE of the row waits for the first one's
 * transaction, then re-checks its WHERE clause against the committed row (READ COMMITTED), so
 * of racing callers only one sees rowCount 1, whichever process or connection they use.
 */

import { CODE_WITH_GRANT_SELECT, TOKEN_WITH_GRANT_SELECT } from './with-grant.js';

const GRANT = `id, host, username AS "user", client_id AS "clientId", client_hash AS "clientHash",
  client_name AS "clientName", client_uri AS "clientUri", scope, created_at AS "createdAt",
  last_used_at AS "lastUsedAt", auth_time AS "authTime", revoked_at AS "revokedAt", generation`;

const TOKEN = `hash, kind, grant_id AS "grantId", scope, created_at AS "createdAt",
  expires_at AS "expiresAt", revoked_at AS "revokedAt", used_at AS "usedAt"`;

const CODE = `hash, grant_id AS "grantId", client_hash AS "clientHash", redirect_uri AS "redirectUri",
  code_challenge AS "codeChallenge", scope, nonce, created_at AS "createdAt", expires_at AS "expiresAt",
  consumed_at AS "consumedAt"`;

const DEVICE = `device_hash AS "deviceHash", user_code AS "userCode", host, client_hash AS "clientHash",
  client_id AS "clientId", scope, created_at AS "createdAt", expires_at AS "expiresAt",
  poll_interval AS "interval", last_poll_at AS "lastPollAt", status, grant_id AS "grantId"`;

// True when the grant of the row being updated is revoked; the foreign key guarantees it exists.
const GRANT_REVOKED = (table: string) => `(SELECT revoked_at FROM grants WHERE id = ${table}.grant_id) IS NOT NULL`;

export const SQL = {
  // Grants
  insertGrant: `INSERT INTO grants
    (id, host, username, client_id, client_hash, client_name, client_uri, scope, created_at, last_used_at, auth_time, revoked_at, generation)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
  getGrant: `SELECT ${GRANT} FROM grants WHERE id = $1`,
  // The tie-breakers make the order total, so two instances list the same grants alike.
  listGrants: `SELECT ${GRANT} FROM grants
    WHERE host = $1 AND username = $2 AND revoked_at IS NULL ORDER BY last_used_at DESC, created_at DESC, id`,
  userGrantIds: 'SELECT id FROM grants WHERE host = $1 AND username = $2',
  // GREATEST: a late, out-of-order touch never moves last use backwards.
  touchGrant: 'UPDATE grants SET last_used_at = GREATEST(last_used_at, $1) WHERE id = $2',

  // The revocation cascade, for a set of grant ids. Codes, tokens and devices are locked before
  // the grant rows, in the order redeemCode takes them (code, then grant), so the two never
  // wait for each other in a cycle.
  // Consumed codes are left as they are, so a later replay still reads as 'reused'.
  revokeGrantCodes: 'UPDATE codes SET revoked_at = $1 WHERE grant_id = ANY($2::text[]) AND revoked_at IS NULL AND consumed_at IS NULL',
  revokeGrantTokens: 'UPDATE tokens SET revoked_at = $1 WHERE grant_id = ANY($2::text[]) AND revoked_at IS NULL',
  // A device approved but not yet redeemed loses its approval: its next poll reads 'denied'.
  denyGrantDevices: `UPDATE devices SET status = 'denied' WHERE grant_id = ANY($1::text[]) AND status = 'approved'`,
  revokeGrants: 'UPDATE grants SET revoked_at = $1 WHERE id = ANY($2::text[]) AND revoked_at IS NULL',

  // Tokens
  insertToken: `INSERT INTO tokens (hash, kind, grant_id, scope, created_at, expires_at, revoked_at, used_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  // Any number of tokens in one statement (one round trip): one array per column.
  insertTokens: `INSERT INTO tokens (hash, kind, grant_id, scope, created_at, expires_at, revoked_at, used_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])`,
  getToken: `SELECT ${TOKEN} FROM tokens WHERE hash = $1`,
  getTokenWithGrant: `${TOKEN_WITH_GRANT_SELECT}$1`,
  revokeToken: 'UPDATE tokens SET revoked_at = $1 WHERE hash = $2 AND revoked_at IS NULL',
  useRefreshToken: `UPDATE tokens SET used_at = $1
    WHERE hash = $2 AND kind = 'refresh' AND used_at IS NULL AND revoked_at IS NULL AND NOT ${GRANT_REVOKED('tokens')}
    RETURNING ${TOKEN}`,

  // A refresh token's rotation as one statement: mark it used if it is still usable and
  // belongs to grant $3, then, only if it was, insert its successor and the access token
  // ($4-$11, as insertTokens).
  rotateRefreshToken: `WITH won AS (
      UPDATE tokens SET used_at = $1
      WHERE hash = $2 AND grant_id = $3 AND kind = 'refresh' AND used_at IS NULL AND revoked_at IS NULL AND NOT ${GRANT_REVOKED('tokens')}
      RETURNING ${TOKEN}
    ), minted AS (
      INSERT INTO tokens (hash, kind, grant_id, scope, created_at, expires_at, revoked_at, used_at)
      SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[])
      WHERE EXISTS (SELECT 1 FROM won)
    )
    SELECT * FROM won`,

  // Authorization codes
  insertCode: `INSERT INTO codes
    (hash, grant_id, client_hash, redirect_uri, code_challenge, scope, nonce, created_at, expires_at, consumed_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  getCode: `SELECT ${CODE} FROM codes WHERE hash = $1`,
  getCodeWithGrant: `${CODE_WITH_GRANT_SELECT}$1`,
  consumeCode: `UPDATE codes SET consumed_at = $1
    WHERE hash = $2 AND consumed_at IS NULL AND revoked_at IS NULL AND NOT ${GRANT_REVOKED('codes')}
    RETURNING ${CODE}`,

  // A code's redemption as one statement (one round trip, atomic on its own): consume the
  // code if it is still usable and belongs to grant $3, then, only if it was, insert the
  // tokens ($4-$11, as insertTokens) and touch the grant. The grant is locked after the code,
  // as the revocation cascade takes them (see revokeGrantCodes), so the two never deadlock.
  redeemCode: `WITH won AS (
      UPDATE codes SET consumed_at = $1
      WHERE hash = $2 AND grant_id = $3 AND consumed_at IS NULL AND revoked_at IS NULL AND NOT ${GRANT_REVOKED('codes')}
      RETURNING ${CODE}
    ), minted AS (
      INSERT INTO tokens (hash, kind, grant_id, scope, created_at, expires_at, revoked_at, used_at)
      SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[])
      WHERE EXISTS (SELECT 1 FROM won)
    ), touched AS (
      UPDATE grants SET last_used_at = GREATEST(last_used_at, $1) WHERE id = $3 AND EXISTS (SELECT 1 FROM won)
    )
    SELECT * FROM won`,

  // Device codes
  insertDevice: `INSERT INTO devices
    (device_hash, user_code, host, client_hash, client_id, scope, created_at, expires_at, poll_interval, last_poll_at, status, grant_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
  getDevice: `SELECT ${DEVICE} FROM devices WHERE device_hash = $1`,
  getDeviceForUpdate: `SELECT ${DEVICE} FROM devices WHERE device_hash = $1 FOR UPDATE`,
  getDeviceByUserCode: `SELECT ${DEVICE} FROM devices WHERE user_code = $1`,
  approveDevice: `UPDATE devices SET status = 'approved', grant_id = $1 WHERE device_hash = $2 AND status = 'pending'`,
  denyDevice: `UPDATE devices SET status = 'denied' WHERE device_hash = $1 AND status = 'pending'`,
  pollDevice: 'UPDATE devices SET last_poll_at = $1, poll_interval = $2 WHERE device_hash = $3',
  // The grant check covers an approval that raced with the grant's revocation.
  consumeDevice: `UPDATE devices SET status = 'consumed'
    WHERE device_hash = $1 AND status = 'approved' AND NOT ${GRANT_REVOKED('devices')}`,

  // Throttling. One statement: INSERT ... ON CONFLICT DO UPDATE is atomic even when several
  // instances insert the same new key at once, so no failure is lost. In DO UPDATE, `t.` is the
  // stored row and EXCLUDED the proposed one; every SET expression sees the values from before.
  hitFailure: `INSERT INTO throttle AS t (throttle_key, failures, window_start, expires_at)
    VALUES ($1, 1, $2::bigint, $2::bigint + $3::bigint)
    ON CONFLICT (throttle_key) DO UPDATE SET
      failures     = CASE WHEN t.expires_at <= EXCLUDED.window_start THEN 1 ELSE t.failures + 1 END,
      window_start = CASE WHEN t.expires_at <= EXCLUDED.window_start THEN EXCLUDED.window_start ELSE t.window_start END,
      expires_at   = CASE WHEN t.expires_at <= EXCLUDED.window_start THEN EXCLUDED.expires_at ELSE t.expires_at END
    RETURNING failures`,
  // Accounts. createGrant makes sure the account's row exists (ensureAccount), then reads its
  // generation under a share lock (lockGeneration) that revokeAccount's row lock
  // (renewGeneration, holdGeneration) excludes: a grant committed before revokeAccount takes
  // the lock is seen by its cascade; one made after it reads the new generation.
  accountGeneration: 'SELECT generation FROM account_generations WHERE host = $1 AND username = $2',
  ensureAccount: `INSERT INTO account_generations (host, username, generation) VALUES ($1, $2, 0) ON CONFLICT (host, username) DO NOTHING`,
  lockGeneration: 'SELECT generation FROM account_generations WHERE host = $1 AND username = $2 FOR SHARE',
  renewGeneration: `INSERT INTO account_generations AS a (host, username, generation) VALUES ($1, $2, 1)
    ON CONFLICT (host, username) DO UPDATE SET generation = a.generation + 1 RETURNING generation`,
  holdGeneration: `INSERT INTO account_generations AS a (host, username, generation) VALUES ($1, $2, 0)
    ON CONFLICT (host, username) DO UPDATE SET generation = a.generation RETURNING generation`,
  endSessions: `INSERT INTO session_cutoffs (host, username, not_before) VALUES ($1, $2, $3)
    ON CONFLICT (host, username) DO UPDATE SET not_before = GREATEST(session_cutoffs.not_before, EXCLUDED.not_before)`,
  sessionsNotBefore: 'SELECT not_before FROM session_cutoffs WHERE host = $1 AND username = $2',
  failuresOf: 'SELECT failures FROM throttle WHERE throttle_key = $1 AND expires_at > $2',
  clearFailures: 'DELETE FROM throttle WHERE throttle_key = $1',

  // Sweeping
  sweepCodes: 'DELETE FROM codes WHERE expires_at <= $1',
  sweepDevices: 'DELETE FROM devices WHERE expires_at <= $1',
  sweepThrottle: 'DELETE FROM throttle WHERE expires_at <= $1',
  sweepTokens: 'DELETE FROM tokens WHERE expires_at <= $1',
  // After sweepTokens, sweepCodes and sweepDevices, in the same transaction (port.ts sweep).
  sweepGrants:
    'DELETE FROM grants WHERE last_used_at <= $1 AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = grants.id) AND NOT EXISTS (SELECT 1 FROM codes c WHERE c.grant_id = grants.id) AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.grant_id = grants.id)',
} as const;
