/**
 * A durable storage adapter for oidc-provider, on the same SQLite library and the same
 * settings as Gatehouse's store: a file in WAL mode with `synchronous = FULL`, so a saved
 * client, code or token survives a crash on both sides of the benchmark. oidc-provider's
 * bundled adapter keeps everything in process memory, "not meant for production"; a deployed
 * oidc-provider has an adapter like this one (its documentation's examples are SQL, Redis
 * and MongoDB adapters: one write per saved model).
 *
 * The adapter interface is oidc-provider's (lib/adapters/memory_adapter.js is its reference):
 * upsert, find, findByUid, findByUserCode, consume, destroy, revokeByGrantId. Every call is
 * one statement in its own transaction, as with a database client that autocommits.
 *
 * `SqliteAdapter.open(file)` must be called once before the Provider is made;
 * `SqliteAdapter.bulk(fn)` runs `fn` with commits not waiting for the disk (the benchmark's
 * setup minting codes), then restores `synchronous = FULL` before anything is measured.
 */
import Database from 'better-sqlite3';
import { nowS, payloadOf } from './oidc-provider-adapter-rows.mjs';

let db = null;
let s = null;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS oidc (
  model       TEXT    NOT NULL,
  id          TEXT    NOT NULL,
  payload     TEXT    NOT NULL,
  grant_id    TEXT,
  user_code   TEXT,
  uid         TEXT,
  expires_at  INTEGER,
  consumed_at INTEGER,
  PRIMARY KEY (model, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS oidc_by_grant ON oidc (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_by_user_code ON oidc (user_code) WHERE user_code IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_by_uid ON oidc (uid) WHERE uid IS NOT NULL;
`;

export default class SqliteAdapter {
  static open(file) {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(SCHEMA);
    s = {
      upsert: db.prepare(`INSERT INTO oidc (model, id, payload, grant_id, user_code, uid, expires_at, consumed_at)
        VALUES (@model, @id, @payload, @grantId, @userCode, @uid, @expiresAt, NULL)
        ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
          user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`),
      find: db.prepare('SELECT payload, expires_at, consumed_at FROM oidc WHERE model = ? AND id = ?'),
      findByUid: db.prepare('SELECT payload, expires_at, consumed_at FROM oidc WHERE model = ? AND uid = ?'),
      findByUserCode: db.prepare('SELECT payload, expires_at, consumed_at FROM oidc WHERE model = ? AND user_code = ?'),
      consume: db.prepare('UPDATE oidc SET consumed_at = ? WHERE model = ? AND id = ?'),
      destroy: db.prepare('DELETE FROM oidc WHERE model = ? AND id = ?'),
      revokeByGrantId: db.prepare('DELETE FROM oidc WHERE grant_id = ?'),
    };
  }

  static async bulk(fn) {
    db.pragma('synchronous = OFF');
    try {
      return await fn();
    } finally {
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.pragma('synchronous = FULL');
    }
  }

  static close() {
    db?.close();
  }

  constructor(model) {
    this.model = model;
  }

  async upsert(id, payload, expiresIn) {
    s.upsert.run({
      model: this.model,
      id,
      payload: JSON.stringify(payload),
      grantId: payload.grantId ?? null,
      userCode: payload.userCode ?? null,
      uid: payload.uid ?? null,
      expiresAt: expiresIn ? nowS() + expiresIn : null,
    });
  }

  async find(id) {
    return payloadOf(s.find.get(this.model, id));
  }

  async findByUid(uid) {
    return payloadOf(s.findByUid.get(this.model, uid));
  }

  async findByUserCode(userCode) {
    return payloadOf(s.findByUserCode.get(this.model, userCode));
  }

  async consume(id) {
    s.consume.run(nowS(), this.model, id);
  }

  async destroy(id) {
    s.destroy.run(this.model, id);
  }

  async revokeByGrantId(grantId) {
    s.revokeByGrantId.run(grantId);
  }
}
