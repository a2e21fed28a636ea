/**
 * The device flow's test side: a server whose store the test holds (to check what is stored
 * and to plant records with explicit times), the device's requests, and the user's part in a
 * form-filling browser.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import type { OAuthStore } from '../../src/storage/port.js';
import { TestBrowser, field } from './browser.js';
import { MemoryLogger } from './log.js';
import { basic, onFreePort, register, REGISTRATION_KEY, serveConfig, type Registered } from './oauth.js';
import { fixture } from './paths.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface DeviceServer {
  origin: string;
  /** Issuer of host `localhost`. */
  issuer: string;
  /** Issuer of host `other.example`. */
  otherIssuer: string;
  store: OAuthStore;
  log: MemoryLogger;
}

/** Gatehouse on 127.0.0.1 with hosts `localhost` and `other.example`, over a store the test holds. */
export function startDeviceServer(t: TestContext): Promise<DeviceServer> {
  return onFreePort((port) => startDeviceServerOn(t, port));
}

async function startDeviceServerOn(t: TestContext, port: number): Promise<DeviceServer> {
  const origin = `http://127.0.0.1:${port}`;
  const config = parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]
oauth2_registration_key = "${REGISTRATION_KEY}"
auth_failure_limit_address = 0
[hosts."localhost"]
oauth2_issuer = "${origin}/localhost"
[hosts."other.example"]
oauth2_issuer = "${origin}/other"
`);
  const { store, log } = await serveConfig(t, config, port);
  return { origin, issuer: `${origin}/localhost`, otherIssuer: `${origin}/other`, store, log };
}

export interface DeviceClient extends Registered {
  /** Authorization header for a confidential client; undefined for a public one. */
  auth?: string;
  /** Body fields that identify the client (client_id for a public client). */
  ident: Record<string, string>;
}

/** Register a device client (no redirect URI needed); confidential unless `public`. */
export async function registerDevice(issuer: string, metadata: Record<string, unknown> = {}): Promise<DeviceClient> {
  const reg = await register(issuer, {
    client_name: 'Test TV',
    client_uri: 'https://tv.example.net/',
    redirect_uris: undefined,
    grant_types: [DEVICE_GRANT, 'refresh_token'],
    scope: 'xmpp openid offline_access',
    ...metadata,
  });
  assert.equal(reg.status, 201, JSON.stringify(reg));
  if (reg.client_secret === undefined) return { ...reg, ident: { client_id: reg.client_id! } };
  return { ...reg, auth: basic(reg.client_id!, reg.client_secret), ident: {} };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function postForm(url: string, form: Record<string, string>, auth?: string): Promise<JsonResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** POST /oauth2/device for `client`. */
export function startDevice(issuer: string, client: DeviceClient, form: Record<string, string> = { scope: 'xmpp offline_access' }): Promise<JsonResponse> {
  return postForm(`${issuer}/oauth2/device`, { ...client.ident, ...form }, client.auth);
}

/** A started device: its codes as the device sees them. */
export interface Started {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

export async function started(issuer: string, client: DeviceClient, scope = 'xmpp offline_access'): Promise<Started> {
  const res = await startDevice(issuer, client, { scope });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as unknown as Started;
}

/** One poll of the token endpoint. */
export function poll(issuer: string, client: DeviceClient, deviceCode: string): Promise<JsonResponse> {
  return postForm(`${issuer}/oauth2/token`, { ...client.ident, grant_type: DEVICE_GRANT, device_code: deviceCode }, client.auth);
}

/** Follow a 303 (relative or absolute Location) with GET. */
export async function follow(b: TestBrowser, res: Response, base: string): Promise<Response> {
  assert.equal(res.status, 303, `expected 303, got ${res.status}`);
  return b.get(new URL(res.headers.get('location')!, base).href);
}

/** Type a user code on the verify page; returns the POST's response. */
export async function enterCode(b: TestBrowser, issuer: string, userCode: string): Promise<Response> {
  const page = await (await b.get(`${issuer}/oauth2/device/verify`)).text();
  return b.post(`${issuer}/oauth2/device/verify`, { csrf: field(page, 'csrf'), user_code: userCode });
}

/**
 * The user's whole part: enter the code, sign in when the page asks, allow or deny. Returns
 * the done page's HTML.
 */
export async function userDecides(
  issuer: string,
  userCode: string,
  opts: { decision?: 'allow' | 'deny'; browser?: TestBrowser; user?: string; password?: string } = {},
): Promise<string> {
  const b = opts.browser ?? new TestBrowser();
  let page = await follow(b, await enterCode(b, issuer, userCode), issuer);
  let html = await page.text();
  if (html.includes('name="password"')) {
    const login = await b.post(`${issuer}/oauth2/device/login`, {
      request: field(html, 'request'),
      csrf: field(html, 'csrf'),
      username: opts.user ?? 'alice',
      password: opts.password ?? 'secret',
    });
    page = await follow(b, login, issuer);
    html = await page.text();
  }
  assert.match(html, /<h1>Allow access\?<\/h1>/);
  const decided = await b.post(`${issuer}/oauth2/device/consent`, { request: field(html, 'request'), csrf: field(html, 'csrf'), decision: opts.decision ?? 'allow' });
  const done = await follow(b, decided, issuer);
  assert.equal(done.status, 200);
  return done.text();
}
