/**
 * The reference server of the OAuth benchmark: oidc-provider@8 in its own process, configured
 * like Gatehouse: open dynamic registration, introspection, PKCE S256 required, opaque access
 * tokens, client_secret_basic (the registered default), no id_token (the benchmark's scope
 * has no `openid`). Its store: its bundled in-memory adapter; with GH_BENCH_OIDC_STORE=sqlite,
 * a durable SQLite adapter (oidc-provider-sqlite-adapter.mjs) with Gatehouse's settings; with
 * GH_BENCH_OIDC_STORE=postgres, a PostgreSQL adapter (oidc-provider-postgres-adapter.mjs) on
 * GH_BENCH_OIDC_DATABASE_URL.
 *
 * Started by bench/oauth.ts with an IPC channel. Messages:
 *  -> parent  { type: 'ready', issuer, endpoints: { register, token, introspect } }
 *  <- parent  { type: 'mint', id, clientId, count, redirectUri }
 *  -> parent  { type: 'minted', id, codes: [{ code, verifier }] } or { type: 'minted', id, error }
 *
 * Minting codes: oidc-provider's own authorization endpoint ends its flow by creating a Grant
 * and an AuthorizationCode through these same models (lib/actions/authorization/
 * process_response_types.js); here they are created directly, without the login and consent
 * pages, with what that flow stores for a non-openid request: account, client, redirect_uri,
 * scope, PKCE challenge, resource, auth_time.
 *
 * The in-memory adapter's store is a QuickLRU of 1,000 entries: pre-minted codes (a code and a
 * grant each) would be evicted before use, so the store is replaced by an unbounded Map through
 * the adapter's own setStorage(); the adapter's code is unchanged.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Provider from 'oidc-provider';
import { setStorage } from 'oidc-provider/lib/adapters/memory_adapter.js';
import PostgresAdapter from './oidc-provider-postgres-adapter.mjs';
import SqliteAdapter from './oidc-provider-sqlite-adapter.mjs';

const RESOURCE = 'urn:gatehouse:bench:xmpp';
const ACCOUNT = 'alice';

const store = process.env.GH_BENCH_OIDC_STORE ?? 'memory';
const Adapter = { sqlite: SqliteAdapter, postgres: PostgresAdapter }[store];
const dir = store === 'sqlite' ? mkdtempSync(join(tmpdir(), 'gh-bench-oidc-')) : null;
if (store === 'sqlite') SqliteAdapter.open(join(dir, 'oidc.sqlite'));
else if (store === 'postgres') await PostgresAdapter.open(process.env.GH_BENCH_OIDC_DATABASE_URL);
else setStorage(new Map());

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const signing = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const routes = { registration: '/reg', token: '/token', introspection: '/token/introspection' };

const provider = new Provider(issuer, {
  ...(Adapter !== undefined ? { adapter: Adapter } : {}),
  routes,
  jwks: { keys: [{ ...signing, alg: 'ES256', use: 'sig', kid: 'bench' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'xmpp'],
  clientDefaults: {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  },
  pkce: { methods: ['S256'], required: () => true },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 120,
    RefreshToken: 604800,
    Grant: 604800,
    Session: 86400,
    Interaction: 3600,
    RegistrationAccessToken: 86400,
  },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    // Like Gatehouse: a client may introspect only its own tokens.
    introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({ scope: 'xmpp', audience: RESOURCE, accessTokenFormat: 'opaque', accessTokenTTL: 3600 }),
    },
  },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
});
server.on('request', provider.callback());

/** What the authorization endpoint would store for an approved non-openid request. */
async function mint(clientId, count, redirectUri) {
  const client = await provider.Client.find(clientId);
  if (client === undefined) throw new Error(`unknown client ${clientId}`);
  const codes = [];
  for (let i = 0; i < count; i++) {
    const grant = new provider.Grant({ accountId: ACCOUNT, clientId });
    grant.addOIDCScope('offline_access');
    grant.addResourceScope(RESOURCE, 'xmpp');
    const grantId = await grant.save();
    const verifier = randomBytes(32).toString('base64url');
    const code = new provider.AuthorizationCode({
      accountId: ACCOUNT,
      authTime: Math.floor(Date.now() / 1000),
      client,
      codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
      codeChallengeMethod: 'S256',
      grantId,
      redirectUri,
      resource: RESOURCE,
      scope: 'xmpp offline_access',
    });
    codes.push({ code: await code.save(), verifier });
  }
  return codes;
}

process.on('message', (msg) => {
  if (msg?.type !== 'mint') return;
  const minting = () => mint(msg.clientId, msg.count, msg.redirectUri);
  // Setup, not measured: a durable store commits without waiting for the disk meanwhile.
  (Adapter !== undefined ? Adapter.bulk(minting) : minting()).then(
    (codes) => process.send({ type: 'minted', id: msg.id, codes }),
    (err) => process.send({ type: 'minted', id: msg.id, error: String(err?.message ?? err) }),
  );
});
async function exit() {
  await Adapter?.close();
  if (dir !== null) rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
process.on('disconnect', () => void exit());
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void exit());
});

process.send({
  type: 'ready',
  issuer,
  endpoints: { register: issuer + routes.registration, token: issuer + routes.token, introspect: issuer + routes.introspection },
});
