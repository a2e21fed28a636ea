/**
 * Gatehouse's side of the OAuth benchmark, in its own process: the compiled server (dist/) as
 * `gatehouse serve` builds it, with one OAuth host whose issuer is the origin, the benchmark's
 * fast auth script, and SQLite in a temporary file (real persistence, WAL), not :memory:; or,
 * when GH_BENCH_DATABASE_URL is set (a postgres:// URL, its schema in the search_path), that
 * PostgreSQL database, migrated at open, as several instances share it (bench/scale.ts).
 * Registration and token rate limits are off: they count requests per client address, and all
 * of the load comes from 127.0.0.1.
 *
 * Started by bench/oauth.ts with an IPC channel; sends
 *   { type: 'ready', issuer, endpoints: { register, token, introspect, authorize } }.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Accounts } from '../../dist/src/accounts/accounts.js';
import { parseConfigText } from '../../dist/src/config/load.js';
import { buildApp } from '../../dist/src/server/http-app.js';
import { oauthHosts } from '../../dist/src/oauth/host.js';
import { silentLogger } from '../../dist/src/log/logger.js';
import { openPostgresStore } from '../../dist/src/storage/postgres.js';
import { openSqliteStore } from '../../dist/src/storage/sqlite-open.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const port = await new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const issuer = `http://127.0.0.1:${port}`;

const config = parseConfigText(`external_auth_command = ${JSON.stringify(['python3', join(ROOT, 'bench/scripts/fast.py')])}
oauth2_registration_key = "bench-registration-key-0123456789abcdef"
oauth2_registration_rate_limit = 0
oauth2_token_rate_limit = 0
[hosts."localhost"]
oauth2_issuer = "${issuer}"
`);

const databaseUrl = process.env.GH_BENCH_DATABASE_URL;
const dir = mkdtempSync(join(tmpdir(), 'gh-bench-oauth-'));
const store = databaseUrl ? await openPostgresStore(databaseUrl) : await openSqliteStore(join(dir, 'gatehouse.sqlite'));
const accounts = new Accounts(config, silentLogger);
const app = await buildApp({ config, accounts, hosts: oauthHosts(config), store, logger: silentLogger });
await app.listen({ host: '127.0.0.1', port });

let closing = false;
async function shutdown() {
  if (closing) return;
  closing = true;
  try {
    await app.close();
    await accounts.close();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
}
process.on('SIGTERM', () => void shutdown());
process.on('disconnect', () => void shutdown());

process.send({
  type: 'ready',
  issuer,
  endpoints: {
    register: `${issuer}/oauth2/register`,
    token: `${issuer}/oauth2/token`,
    introspect: `${issuer}/oauth2/introspect`,
    authorize: `${issuer}/oauth2/authorize`,
  },
});
