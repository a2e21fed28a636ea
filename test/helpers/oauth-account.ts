/**
 * Helpers of the account page tests: a server whose auth script keeps its accounts in a file
 * (test/fixtures/users-file.mjs), signing in through the account page's own form, and a grant
 * with tokens obtained through the real authorization code flow.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { field, TestBrowser } from './browser.js';
import { authorize, basic, pkce, REDIRECT, register, startOAuth, token, type OAuthServer } from './oauth.js';
import { fixture } from './paths.js';

export type Users = Record<string, Record<string, string>>;

export interface UsersServer extends OAuthServer {
  /** The accounts as the script now has them. */
  users(): Users;
}

/**
 * Like startOAuth (hosts `localhost` and `other.example`), with users-file.mjs as the auth
 * script over a fresh file seeded with `users`. The script finds the file through USERS_FILE
 * in the environment it inherits: tests of one file run one after another, each with its own.
 */
export async function startWithUsers(t: TestContext, users: Users, extra = ''): Promise<UsersServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-users-'));
  const file = join(dir, 'users.json');
  writeFileSync(file, JSON.stringify(users));
  process.env['USERS_FILE'] = file;
  const server = await startOAuth(t, `external_auth_processes = 1\n${extra}`, { script: fixture('users-file.mjs') });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { ...server, users: () => JSON.parse(readFileSync(file, 'utf8')) as Users };
}

/** Sign in through the account page's form; returns the account page shown after the 303. */
export async function signIn(b: TestBrowser, issuer: string, user = 'alice', password = 'secret'): Promise<string> {
  const form = await (await b.get(`${issuer}/account`)).text();
  const res = await b.post(`${issuer}/account/login`, { csrf: field(form, 'csrf'), username: user, password });
  assert.equal(res.status, 303, await res.text());
  assert.equal(res.headers.get('location'), `${new URL(issuer).pathname}/account`);
  const page = await b.get(`${issuer}/account`);
  assert.equal(page.status, 200);
  return page.text();
}

export interface Tokens {
  clientId: string;
  auth: string;
  access: string;
  refresh: string;
}

/** Register a client, run the flow for `user` and exchange the code: a grant with live tokens. */
export async function grantTokens(issuer: string, opts: { user?: string; password?: string; clientName?: string; browser?: TestBrowser } = {}): Promise<Tokens> {
  const client = await register(issuer, { client_name: opts.clientName ?? 'Test Chat' });
  assert.equal(client.status, 201, JSON.stringify(client));
  const auth = basic(client.client_id!, client.client_secret!);
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, client.client_id!, {
    challenge,
    user: opts.user ?? 'alice',
    password: opts.password ?? 'secret',
    ...(opts.browser ? { browser: opts.browser } : {}),
  });
  const code = back.searchParams.get('code');
  assert.ok(code, `no code in ${back.href}`);
  const res = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { clientId: client.client_id!, auth, access: res.body['access_token'] as string, refresh: res.body['refresh_token'] as string };
}

/** The hidden `grant` ids of the revoke forms on an account page, in page order. */
export function grantIds(page: string): string[] {
  return [...page.matchAll(/name="grant" value="([^"]*)"/g)].map((m) => m[1]!);
}
