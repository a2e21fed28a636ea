/** Start Gatehouse with OAuth hosts on a real 127.0.0.1 port, with a fixture auth script. */
import { createHash, randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { parseConfigText } from '../../src/config/load.js';
import { buildApp } from '../../src/server/http-app.js';
import { wireAccounts } from '../../src/server/services.js';
import type { OAuthStore } from '../../src/storage/port.js';
import { openSqliteStore } from '../../src/storage/sqlite-open.js';
import type { GatehouseConfig } from '../../src/config/types.js';
import { oauthHosts } from '../../src/oauth/host.js';
import { join } from 'node:path';
import { TestBrowser, field } from './browser.js';
import { MemoryLogger } from './log.js';
import { fixture } from './paths.js';
import { freePort, onFreePort } from './net.js';

export { freePort, onFreePort };

export interface OAuthServer {
  origin: string;
  issuer(host?: string): string;
  log: MemoryLogger;
}

export const REGISTRATION_KEY = 'test-registration-key-0123456789';

/**
 * Hosts `localhost` (issuer {origin}/localhost) and `other.example` ({origin}/other), answered
 * by the `script` fixture (default fast.mjs).
 */
export function startOAuth(t: TestContext, extra = '', options: { dataDir?: string; script?: string } = {}): Promise<OAuthServer> {
  return onFreePort((port) => startOAuthOn(t, port, extra, options));
}

async function startOAuthOn(t: TestContext, port: number, extra: string, options: { dataDir?: string; script?: string }): Promise<OAuthServer> {
  const origin = `http://127.0.0.1:${port}`;
  const config = parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(options.script ?? fixture('fast.mjs'))}]
oauth2_registration_key = "${REGISTRATION_KEY}"
auth_failure_limit_address = 0
${extra}
[hosts."localhost"]
oauth2_issuer = "${origin}/localhost"
[hosts."other.example"]
oauth2_issuer = "${origin}/other"
`);
  const { log } = await serveConfig(t, config, port, options.dataDir === undefined ? ':memory:' : join(options.dataDir, 'gatehouse.sqlite'));
  return { origin, issuer: (h = 'localhost') => `${origin}/${h === 'localhost' ? 'localhost' : 'other'}`, log };
}

/**
 * Gatehouse on 127.0.0.1:`port` for a validated configuration: accounts (OAuth tokens accepted
 * as passwords on its OAuth hosts), a SQLite store (`:memory:` or a file), the HTTP app; all of
 * it closed after the test.
 */
export async function serveConfig(
  t: TestContext,
  config: GatehouseConfig,
  port: number,
  storeFile = ':memory:',
): Promise<{ store: OAuthStore; log: MemoryLogger; accounts: Accounts }> {
  const log = new MemoryLogger();
  const store = await openSqliteStore(storeFile);
  const hosts = oauthHosts(config);
  const accounts = wireAccounts(config, log, hosts, store);
  const app = await buildApp({ config, accounts, hosts, store, logger: log });
  const close = async (): Promise<void> => {
    await app.close();
    await accounts.close();
    await store.close();
  };
  try {
    await app.listen({ host: '127.0.0.1', port });
  } catch (err) {
    // The port was taken meanwhile (onFreePort tries another): nothing may outlive the attempt.
    await close();
    throw err;
  }
  t.after(close);
  return { store, log, accounts };
}

export const REDIRECT = 'https://app.example.net/callback';

export interface Registered {
  status: number;
  client_id?: string;
  client_secret?: string;
  error?: string;
  error_description?: string;
}

export async function register(issuer: string, metadata: Record<string, unknown> = {}): Promise<Registered> {
  const res = await fetch(`${issuer}/oauth2/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Test Chat',
      client_uri: 'https://app.example.net/',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'xmpp openid offline_access',
      ...metadata,
    }),
  });
  return { status: res.status, ...((await res.json()) as Omit<Registered, 'status'>) };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Run the browser part of the flow: authorize, log in, consent. Returns the final redirect. */
export async function authorize(
  issuer: string,
  clientId: string,
  opts: { user?: string; password?: string; scope?: string; state?: string; challenge: string; browser?: TestBrowser; redirectUri?: string },
): Promise<URL> {
  const b = opts.browser ?? new TestBrowser();
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: opts.redirectUri ?? REDIRECT,
    scope: opts.scope ?? 'xmpp offline_access',
    state: opts.state ?? 'st4te',
    code_challenge: opts.challenge,
    code_challenge_method: 'S256',
  });
  return signInAndAllow(`${issuer}/oauth2/authorize?${q}`, issuer, { browser: b, user: opts.user, password: opts.password });
}

/**
 * The user's part of an authorization request: open `url`, log in if asked, allow. `base` is
 * where the pages are served (the issuer, or another instance's address). Returns the
 * redirect back to the client.
 */
export async function signInAndAllow(url: string, base: string, opts: { browser?: TestBrowser; user?: string | undefined; password?: string | undefined } = {}): Promise<URL> {
  const b = opts.browser ?? new TestBrowser();
  let page = await b.get(url);
  let html = await page.text();
  if (html.includes('name="password"')) {
    const login = await b.post(`${base}/oauth2/authorize/login`, {
      request: field(html, 'request'),
      csrf: field(html, 'csrf'),
      username: opts.user ?? 'alice',
      password: opts.password ?? 'secret',
    });
    if (login.status !== 303) throw new Error(`login answered ${login.status}: ${await login.text()}`);
    page = await b.get(new URL(login.headers.get('location')!, base).toString());
    html = await page.text();
  }
  const consent = await b.post(`${base}/oauth2/authorize/consent`, { request: field(html, 'request'), csrf: field(html, 'csrf'), decision: 'allow' });
  if (consent.status !== 303) throw new Error(`consent answered ${consent.status}: ${await consent.text()}`);
  return new URL(consent.headers.get('location')!);
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export async function token(issuer: string, form: Record<string, string>, auth?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${issuer}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function introspect(issuer: string, tokenValue: string, auth: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${issuer}/oauth2/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
    body: new URLSearchParams({ token: tokenValue }).toString(),
  });
  return (await res.json()) as Record<string, unknown>;
}
