/**
 * A token and its grant read by one statement (a JOIN), so both come from one snapshot
 * without a transaction around two reads: introspection and bearer-token checks do this on
 * every request. The SQL is the same in both dialects (double-quoted aliases keep their case
 * in PostgreSQL and SQLite alike); each store adds its own placeholder.
 */
import type { Grant, TokenRecord } from './port.js';

export const TOKEN_WITH_GRANT_SELECT = `SELECT
      t.hash AS "t_hash", t.kind AS "t_kind", t.grant_id AS "t_grantId", t.scope AS "t_scope",
      t.created_at AS "t_createdAt", t.expires_at AS "t_expiresAt", t.revoked_at AS "t_revokedAt", t.used_at AS "t_usedAt",
      g.id, g.host, g.username AS "user", g.client_id AS "clientId", g.client_hash AS "clientHash",
      g.client_name AS "clientName", g.client_uri AS "clientUri", g.scope, g.created_at AS "createdAt",
      g.last_used_at AS "lastUsedAt", g.auth_time AS "authTime", g.revoked_at AS "revokedAt"
    FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.hash = `;

/** Splits a row of TOKEN_WITH_GRANT_SELECT into the token and its grant. */
export function splitTokenWithGrant(r: Record<string, unknown>): { token: TokenRecord; grant: Grant } {
  const token = {
    hash: r['t_hash'],
    kind: r['t_kind'],
    grantId: r['t_grantId'],
    scope: r['t_scope'],
    createdAt: r['t_createdAt'],
    expiresAt: r['t_expiresAt'],
    revokedAt: r['t_revokedAt'],
    usedAt: r['t_usedAt'],
  } as TokenRecord;
  const grant = {
    id: r['id'],
    host: r['host'],
    user: r['user'],
    clientId: r['clientId'],
    clientHash: r['clientHash'],
    clientName: r['clientName'],
    clientUri: r['clientUri'],
    scope: r['scope'],
    createdAt: r['createdAt'],
    lastUsedAt: r['lastUsedAt'],
    authTime: r['authTime'],
    revokedAt: r['revokedAt'],
  } as Grant;
  return { token, grant };
}
