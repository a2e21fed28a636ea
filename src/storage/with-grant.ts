/**
 * A token, or a code, and its grant read by one statement (a JOIN), so both come from one
 * snapshot without a transaction around two reads: introspection and bearer-token checks
 * read a token and its grant on every request, a code exchange its code and grant. The SQL
 * is the same in both dialects (double-quoted aliases keep their case in PostgreSQL and
 * SQLite alike); each store adds its own placeholder.
 */
import type { CodeRecord, Grant, TokenRecord } from './port.js';

const GRANT_COLUMNS = `g.id, g.host, g.username AS "user", g.client_id AS "clientId", g.client_hash AS "clientHash",
      g.client_name AS "clientName", g.client_uri AS "clientUri", g.scope, g.created_at AS "createdAt",
      g.last_used_at AS "lastUsedAt", g.auth_time AS "authTime", g.revoked_at AS "revokedAt", g.generation`;

export const TOKEN_WITH_GRANT_SELECT = `SELECT
      t.hash AS "t_hash", t.kind AS "t_kind", t.grant_id AS "t_grantId", t.scope AS "t_scope",
      t.created_at AS "t_createdAt", t.expires_at AS "t_expiresAt", t.revoked_at AS "t_revokedAt", t.used_at AS "t_usedAt",
      ${GRANT_COLUMNS}
    FROM tokens t JOIN grants g ON g.id = t.grant_id WHERE t.hash = `;

export const CODE_WITH_GRANT_SELECT = `SELECT
      c.hash AS "c_hash", c.grant_id AS "c_grantId", c.client_hash AS "c_clientHash", c.redirect_uri AS "c_redirectUri",
      c.code_challenge AS "c_codeChallenge", c.scope AS "c_scope", c.nonce AS "c_nonce", c.created_at AS "c_createdAt",
      c.expires_at AS "c_expiresAt", c.consumed_at AS "c_consumedAt",
      ${GRANT_COLUMNS}
    FROM codes c JOIN grants g ON g.id = c.grant_id WHERE c.hash = `;

/** The grant part of a row of either SELECT. */
function grantOf(r: Record<string, unknown>): Grant {
  return {
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
    generation: r['generation'],
  } as Grant;
}

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
  return { token, grant: grantOf(r) };
}

/** Splits a row of CODE_WITH_GRANT_SELECT into the code and its grant. */
export function splitCodeWithGrant(r: Record<string, unknown>): { code: CodeRecord; grant: Grant } {
  const code = {
    hash: r['c_hash'],
    grantId: r['c_grantId'],
    clientHash: r['c_clientHash'],
    redirectUri: r['c_redirectUri'],
    codeChallenge: r['c_codeChallenge'],
    scope: r['c_scope'],
    nonce: r['c_nonce'],
    createdAt: r['c_createdAt'],
    expiresAt: r['c_expiresAt'],
    consumedAt: r['c_consumedAt'],
  } as CodeRecord;
  return { code, grant: grantOf(r) };
}
