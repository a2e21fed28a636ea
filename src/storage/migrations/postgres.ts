/**
 * The PostgreSQL schema, as ordered migrations with the same version numbers as SQLite's
 * (migrations/sqlite.ts), so that version N means the same tables and columns on both
 * backends. Append a new entry for every change; never edit one that has shipped.
 *
 * Times are BIGINT milliseconds since the epoch (the store parses INT8 back to a JS number;
 * values stay far below 2^53). Hashes are lowercase hex SHA-256: secrets are never stored.
 */
import type { Migration } from './migration.js';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE grants (
  id           TEXT   NOT NULL PRIMARY KEY,
  host         TEXT   NOT NULL,
  username     TEXT   NOT NULL,
  client_id    TEXT   NOT NULL,
  client_hash  TEXT   NOT NULL,
  client_name  TEXT   NOT NULL,
  client_uri   TEXT   NOT NULL,
  scope        TEXT   NOT NULL,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL,
  auth_time    BIGINT NOT NULL,
  revoked_at   BIGINT
);
-- listGrants and revokeUserGrants find a user's grants; listGrants sorts by last use.
CREATE INDEX grants_by_user ON grants (host, username, last_used_at);

CREATE TABLE tokens (
  hash       TEXT   NOT NULL PRIMARY KEY,
  kind       TEXT   NOT NULL CHECK (kind IN ('access', 'refresh')),
  grant_id   TEXT   NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
  scope      TEXT   NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT,
  used_at    BIGINT
);
CREATE INDEX tokens_by_grant ON tokens (grant_id);
CREATE INDEX tokens_by_expiry ON tokens (expires_at);

CREATE TABLE codes (
  hash           TEXT   NOT NULL PRIMARY KEY,
  grant_id       TEXT   NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
  client_hash    TEXT   NOT NULL,
  redirect_uri   TEXT   NOT NULL,
  code_challenge TEXT   NOT NULL,
  scope          TEXT   NOT NULL,
  nonce          TEXT,
  created_at     BIGINT NOT NULL,
  expires_at     BIGINT NOT NULL,
  consumed_at    BIGINT,
  -- Set by the revocation cascade on codes not yet consumed.
  revoked_at     BIGINT
);
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
  created_at    BIGINT  NOT NULL,
  expires_at    BIGINT  NOT NULL,
  poll_interval INTEGER NOT NULL,
  last_poll_at  BIGINT,
  status        TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
  grant_id      TEXT    REFERENCES grants (id) ON DELETE CASCADE,
  -- An approved device always knows the grant its tokens will belong to.
  CHECK (status NOT IN ('approved', 'consumed') OR grant_id IS NOT NULL)
);
CREATE INDEX devices_by_grant ON devices (grant_id);
CREATE INDEX devices_by_expiry ON devices (expires_at);

-- One fixed window per key: failures counted since window_start, forgotten at expires_at.
CREATE TABLE throttle (
  throttle_key TEXT    NOT NULL PRIMARY KEY,
  failures     INTEGER NOT NULL,
  window_start BIGINT  NOT NULL,
  expires_at   BIGINT  NOT NULL
);
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
  not_before BIGINT  NOT NULL,
  PRIMARY KEY (host, username)
);
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
-- createGrant and revokeAccount lock the account's row (FOR SHARE, FOR UPDATE), so a grant
-- made while its account ends is either seen and revoked, or made already revoked.
CREATE TABLE account_generations (
  host       TEXT    NOT NULL,
  username   TEXT    NOT NULL,
  generation INTEGER NOT NULL,
  PRIMARY KEY (host, username)
);
ALTER TABLE grants ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
`,
  },
];
