/**
 * Shared set-up of the authorization, revocation, introspection and password-grant attack
 * tests: a real app with a real SQLite store (read back to check what was stored) and the
 * user's steps through the authorization pages.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { oauthHosts, type OAuthHost } from '../../src/oauth/host.js';
import type { OAuthStore } from '../../src/storage/port.js';
import { TestBrowser, field } from './browser.js';
import { MemoryLogger } from './log.js';
import { basic, onFreePort, pkce, REDIRECT, REGISTRATION_KEY, serveConfig, token } from './oauth.js';
import { fixture } from './paths.js';

export const RS_SECRET = 'resource-server-secret-0123456789';
export const RESOURCE = 'imap://mail.example.org';

export interface Server {
  origin: string;
  issuer: string;
  otherIssuer: string;
  store: OAuthStore;
  log: MemoryLogger;
  /** The host `localhost` as the server has it (its keys, to sign a session of our choosing). */
  host: OAuthHost;
}

export interface StartOptions {
  passwordGrant?: boolean;
  script?: string;
  keys?: string[];
  issuerOrigin?: string;
}

export function start(t: TestContext, extra = '', opts: StartOptions = {}): Promise<Server> {
  return onFreePort((port) => startOn(t, port, extra, opts));
}

async function startOn(t: TestContext, port: number, extra: string, opts: StartOptions): Promise<Server> {
  const origin = `http://127.0.0.1:${port}`;
  const config = parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture(opts.script ?? 'fast.mjs'))}]
oauth2_registration_key = ${JSON.stringify(opts.keys ?? REGISTRATION_KEY)}
auth_failure_limit_address = 0
oauth2_password_grant = ${opts.passwordGrant ?? true}
oauth2_introspection_credentials = ["dovecot:${RS_SECRET}:imap", "anyscope:${RS_SECRET}x"]
oauth2_jwt_resources = ["${RESOURCE}"]
${extra}
[hosts."localhost"]
oauth2_issuer = "${opts.issuerOrigin ?? origin}/localhost"
[hosts."other.example"]
oauth2_issuer = "${origin}/other"
`);
  const { store, log } = await serveConfig(t, config, port);
  const host = oauthHosts(config).find((h) => h.host === 'localhost')!;
  return { origin, issuer: `${origin}/localhost`, otherIssuer: `${origin}/other`, store, log, host };
}

/** The fields of the log entries with message `msg`. */
export const logged = (s: Server, msg: string) =>
  s.log.entries
    .filter((e) => e.msg === msg)
    .map((e) => {
      // The fields every entry of the host's logger carries.
      const { face: _face, host: _host, ...rest } = e.obj;
      return rest;
    });

/** The heading and message of our error page. */
export function errorText(html: string): { heading: string; message: string } {
  const heading = /<h1[^>]*>([^<]*)<\/h1>/.exec(html)?.[1];
  const message = /<p role="alert">([^<]*)<\/p>/.exec(html)?.[1];
  assert.ok(heading !== undefined && message !== undefined, html);
  return { heading: unescape(heading), message: unescape(message) };
}

/** An authorization request's query, every parameter valid unless overridden (undefined drops one). */
export function query(clientId: string, over: Record<string, string | undefined> = {}): string {
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'xmpp',
    state: 'st-1',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...over,
  };
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(all)) if (v !== undefined) q.set(k, v);
  return q.toString();
}

/** Sign `b` in through the login page of an authorization request; returns the consent page. */
export async function signIn(s: Server, b: TestBrowser, clientId: string, user = 'alice'): Promise<string> {
  const page = await (await b.get(`${s.issuer}/oauth2/authorize?${query(clientId)}`)).text();
  const login = await b.post(`${s.issuer}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf'), username: user, password: 'secret' });
  assert.equal(login.status, 303, await login.text());
  const consent = await (await b.get(new URL(login.headers.get('location')!, s.issuer).toString())).text();
  assert.ok(consent.includes('Allow access?'), 'signed in: the consent page');
  return consent;
}

/** Allow on a consent page; returns the redirect back to the client. */
export async function allow(s: Server, b: TestBrowser, page: string): Promise<URL> {
  const res = await b.post(`${s.issuer}/oauth2/authorize/consent`, { request: field(page, 'request'), csrf: field(page, 'csrf'), decision: 'allow' });
  assert.equal(res.status, 303, await res.text());
  return new URL(res.headers.get('location')!);
}

export async function post(url: string, form: Record<string, string>, auth?: string): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth !== undefined ? { authorization: auth } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* an empty 200 */
  }
  return { status: res.status, body, text };
}

/** The error page's text with HTML entities of quotes and brackets undone. */
export const unescape = (html: string) => html.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** Each refusal of steps 4-8 (src/oauth/authorize/endpoint.ts header), with its code and description. */
export function refusals(webId: string): { over: Record<string, string | undefined>; error: string; description: string }[] {
  return [
    { over: { request: 'eyJ.x.y' }, error: 'request_not_supported', description: 'request objects are not supported' },
    { over: { request_uri: 'https://evil.example/r' }, error: 'request_uri_not_supported', description: 'request_uri is not supported' },
    { over: { response_type: 'token' }, error: 'unsupported_response_type', description: 'only response_type=code is supported' },
    { over: { response_type: undefined }, error: 'unsupported_response_type', description: 'only response_type=code is supported' },
    { over: { code_challenge: undefined }, error: 'invalid_request', description: 'code_challenge (PKCE) is required' },
    { over: { code_challenge: 'short' }, error: 'invalid_request', description: 'code_challenge (PKCE) is required' },
    { over: { code_challenge_method: 'plain' }, error: 'invalid_request', description: 'code_challenge_method must be S256' },
    { over: { code_challenge_method: undefined }, error: 'invalid_request', description: 'code_challenge_method must be S256' },
    { over: { scope: 'xmpp admin' }, error: 'invalid_scope', description: 'unknown scope' },
    { over: { scope: 'imap' }, error: 'invalid_scope', description: 'no scope requested that the client registered' },
    { over: { prompt: 'always' }, error: 'invalid_request', description: 'prompt must be none, or any of login, consent, select_account' },
    { over: { prompt: 'none login' }, error: 'invalid_request', description: 'prompt must be none, or any of login, consent, select_account' },
    { over: { prompt: 'consent none' }, error: 'invalid_request', description: 'prompt must be none, or any of login, consent, select_account' },
    { over: { max_age: 'abc' }, error: 'invalid_request', description: 'max_age must be a number of seconds' },
    { over: { max_age: '-1' }, error: 'invalid_request', description: 'max_age must be a number of seconds' },
    { over: { max_age: '12345678901' }, error: 'invalid_request', description: 'max_age must be a number of seconds' },
    { over: { max_age: '1x' }, error: 'invalid_request', description: 'max_age must be a number of seconds' },
    { over: { max_age: 'x1' }, error: 'invalid_request', description: 'max_age must be a number of seconds' },
  ].map((r) => ({ ...r, over: { ...r.over, client_id: webId } }));
}

/** Tokens for `client` through the code flow in browser `b` (signing in if needed). */
export async function codeTokens(s: Server, b: TestBrowser, client: { client_id?: string; client_secret?: string }, scope = 'xmpp offline_access'): Promise<Record<string, unknown>> {
  const { verifier, challenge } = pkce();
  const page = await (await b.get(`${s.issuer}/oauth2/authorize?${query(client.client_id!, { scope, code_challenge: challenge })}`)).text();
  const back = await allow(s, b, page.includes('Allow access?') ? page : await signIn(s, b, client.client_id!));
  const r = await token(s.issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, basic(client.client_id!, client.client_secret!));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}
