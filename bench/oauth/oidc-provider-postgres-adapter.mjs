/**
 * A PostgreSQL storage adapter for oidc-provider, as it is commonly deployed: a pool of
 * connections (pg, 10 at most), one statement per adapter call, each committed on its own
 * with the server's default durability (`synchronous_commit = on`). PostgreSQL commits
 * concurrent transactions together, so unlike the SQLite adapter the reference gets a group
 * commit from its database. The adapter interface is oidc-provider's (see
 * oidc-provider-sqlite-adapter.mjs); the table lives in the schema the URL's search_path names.
 *
 * `PostgresAdapter.open(url)` must be called (and awaited) once before the Provider is made;
 * `PostgresAdapter.bulk(fn)` runs `fn` on connections with `synchronous_commit = off` (the
 * benchmark's setup minting codes), so setup does not wait for the disk.
 */
import pg from 'pg';
import { nowS, payloadOf } from './oidc-provider-adapter-rows.mjs';

let durable = null;
let fast = null;
let active = null;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS oidc (
  model       TEXT   NOT NULL,
  id          TEXT   NOT NULL,
  payload     TEXT   NOT NULL,
  grant_id    TEXT,
  user_code   TEXT,
  uid         TEXT,
  expires_at  BIGINT,
  consumed_at BIGINT,
  PRIMARY KEY (model, id)
);
CREATE INDEX IF NOT EXISTS oidc_by_grant ON oidc (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_by_user_code ON oidc (user_code) WHERE user_code IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_by_uid ON oidc (uid) WHERE uid IS NOT NULL;
`;

export default class PostgresAdapter {
  static async open(url) {
    durable = new pg.Pool({ connectionString: url, max: 10 });
    const u = new URL(url);
    u.searchParams.set('options', `${u.searchParams.get('options') ?? ''} -c synchronous_commit=off`.trim());
    fast = new pg.Pool({ connectionString: u.toString(), max: 10 });
    for (const p of [durable, fast]) p.on('error', () => {});
    active = durable;
    await durable.query(SCHEMA);
  }

  static async bulk(fn) {
    active = fast;
    try {
      return await fn();
    } finally {
      active = durable;
    }
  }

  static async close() {
    await Promise.all([durable?.end(), fast?.end()]);
  }

  constructor(model) {
    this.model = model;
  }

  async upsert(id, payload, expiresIn) {
    await active.query(
      `INSERT INTO oidc (model, id, payload, grant_id, user_code, uid, expires_at, consumed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
       ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
         user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
      [this.model, id, JSON.stringify(payload), payload.grantId ?? null, payload.userCode ?? null, payload.uid ?? null, expiresIn ? nowS() + expiresIn : null],
    );
  }

  async find(id) {
    const { rows } = await active.query('SELECT payload, expires_at, consumed_at FROM oidc WHERE model = $1 AND id = $2', [this.model, id]);
    return payloadOf(rows[0]);
  }

  async findByUid(uid) {
    const { rows } = await active.query('SELECT payload, expires_at, consumed_at FROM oidc WHERE model = $1 AND uid = $2', [this.model, uid]);
    return payloadOf(rows[0]);
  }

  async findByUserCode(userCode) {
    const { rows } = await active.query('SELECT payload, expires_at, consumed_at FROM oidc WHERE model = $1 AND user_code = $2', [this.model, userCode]);
    return payloadOf(rows[0]);
  }

  async consume(id) {
    await active.query('UPDATE oidc SET consumed_at = $1 WHERE model = $2 AND id = $3', [nowS(), this.model, id]);
  }

  async destroy(id) {
    await active.query('DELETE FROM oidc WHERE model = $1 AND id = $2', [this.model, id]);
  }

  async revokeByGrantId(grantId) {
    await active.query('DELETE FROM oidc WHERE grant_id = $1', [grantId]);
  }
}
