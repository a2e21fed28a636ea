/**
 * The SQLite schema, as ordered migrations. Append a new entry for every change; never edit
 * one that has shipped, since databases in the field already ran it. PostgreSQL will get its
 * own list (migrations/postgres.ts) with the same version numbers, so that version N means the
 * same tables and columns on both backends.
 *
 * Column names avoid words that PostgreSQL reserves (user, interval, key) for that reason.
 * Tables are STRICT, so a value of the wrong type is refused rather than silently stored.
 * Hashes are lowercase hex SHA-256 (port.ts): the secrets themselves are never stored.
 */
import type { Migration } from './migration.js';

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE grants (
  id           TEXT    NOT NULL PRIMARY KEY,
  host         TEXT    NOT NULL,
  username     TEXT    NOT NULL,
  client_id    TEXT    NOT NULL,
  client_hash  TEXT    NOT NULL,
  client_name  TEXT    NOT NULL,
  client_uri   TEXT    NOT NULL,
  scope        TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  auth_time    INTEGER NOT NULL,
  revoked_at   INTEGER
) STRICT;
-- listGrants and revokeUserGrants find a user's grants; listGrants sorts by last use.
CREATE INDEX grants_by_user ON grants (host, username, last_used_at);

CREATE TABLE tokens (
  hash       TEXT    NOT NULL PRIMARY KEY,
  kind       TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
  grant_id   TEXT    NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
  scope      TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  used_at    INTEGER
) STRICT;
CREATE INDEX tokens_by_grant ON tokens (grant_id);
CREATE INDEX tokens_by_expiry ON tokens (expires_at);

CREATE TABLE codes (
  hash           TEXT    NOT NULL PRIMARY KEY,
  grant_id       TEXT    NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
  client_hash    TEXT    NOT NULL,
  redirect_uri   TEXT    NOT NULL,
  code_challenge TEXT    NOT NULL,
  scope          TEXT    NOT NULL,
  nonce          TEXT,
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  consumed_at    INTEGER,
  -- Set by the revocation cascade on codes not yet consumed.
  revoked_at     INTEGER
) STRICT;
CREATE INDEX codes_by_grant ON codes (grant_id);
CREATE INDEX codes_by_expiry ON codes (expires_at);

CREATE TABLE devices (
  device_hash   TEXT    NOT NULL PRIMARY KEY,
  -- Unique: the code a user types must designate exactly one device.
  user_code     TEXT    NOT NULL UNIQUE,
  host          TEXT    NOT NULL,
  client_hash   TEXT    NOT NULL,
  client_id     TEXT    NOT NULL,
  scope         TEXT    NOT NULL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  poll_interval INTEGER NOT NULL,
  last_poll_at  INTEGER,
  status        TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
  grant_id      TEXT    REFERENCES grants (id) ON DELETE CASCADE,
  -- An approved device always knows the grant its tokens will belong to.
  CHECK (status NOT IN ('approved', 'consumed') OR grant_id IS NOT NULL)
) STRICT;
CREATE INDEX devices_by_grant ON devices (grant_id);
CREATE INDEX devices_by_expiry ON devices (expires_at);

-- One fixed window per key: failures counted since window_start, forgotten at expires_at.
CREATE TABLE throttle (
  throttle_key TEXT    NOT NULL PRIMARY KEY,
  failures     INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX throttle_by_expiry ON throttle (expires_at);
`,
  },
  {
    version: 2,
    name: 'session_cutoffs',
    sql: `
-- Browser sessions are signed cookies, stored nowhere; a password change must still end the
-- other browsers' sessions. A session issued before not_before (ms) is no longer accepted.
CREATE TABLE session_cutoffs (
  host       TEXT    NOT NULL,
  username   TEXT    NOT NULL,
  not_before INTEGER NOT NULL,
  PRIMARY KEY (host, username)
) STRICT;
`,
  },
  {
    version: 3,
    name: 'account_generations',
    sql: `
-- An account's generation (DESIGN.md: "a name registered again is a new subject"): 0 until the
-- name is removed or registered through a face, then one more each time. A grant records the
-- generation it was made for; one made for an earlier generation belongs to an account that
-- no longer exists, and the subject (sub) of a later generation differs from the first one's.
CREATE TABLE account_generations (
  host       TEXT    NOT NULL,
  username   TEXT    NOT NULL,
  generation INTEGER NOT NULL,
  PRIMARY KEY (host, username)
) STRICT;
ALTER TABLE grants ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
`,
  },
];
