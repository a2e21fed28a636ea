/**
 * Helpers of the OpenID Connect tests: a Gatehouse whose host `localhost` has chosen
 * registration keys (for rotation) and whose store the test can reach, and the user's part of
 * an authorization request given as a URL (so a test can add a nonce, or let openid-client
 * build it).
 */
import type { TestContext } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import type { OAuthStore } from '../../src/storage/port.js';
import { TestBrowser } from './browser.js';
import { MemoryLogger } from './log.js';
import { basic, onFreePort, pkce, REDIRECT, serveConfig, signInAndAllow, token } from './oauth.js';
import { fixture } from './paths.js';

export { signInAndAllow };

export const K1 = 'oidc-test-key-one-0123456789abcdef';
export const K2 = 'oidc-test-key-two-0123456789abcdef';

export interface KeyedServer {
  origin: string;
  /** The issuer of host `localhost`. */
  issuer: string;
  /** Where this instance serves host `localhost` ({origin}/localhost): the issuer unless given. */
  base: string;
  store: OAuthStore;
  log: MemoryLogger;
}

/**
 * One instance serving host `localhost` under /localhost with these registration keys. Give
 * `issuer` to play a second instance of a fleet: same issuer, own address.
 */
export function startKeyed(t: TestContext, keys: readonly string[], issuer?: string): Promise<KeyedServer> {
  return onFreePort((port) => startKeyedOn(t, port, keys, issuer));
}

async function startKeyedOn(t: TestContext, port: number, keys: readonly string[], issuer: string | undefined): Promise<KeyedServer> {
  const origin = `http://127.0.0.1:${port}`;
  const iss = issuer ?? `${origin}/localhost`;
  const config = parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]
auth_failure_limit_address = 0
[hosts."localhost"]
oauth2_issuer = "${iss}"
oauth2_registration_key = ${JSON.stringify(keys)}
`);
  const { store, log } = await serveConfig(t, config, port);
  return { origin, issuer: iss, base: `${origin}/localhost`, store, log };
}

/** An authorization request URL for the code flow with PKCE, plus any extra parameters. */
export function authorizationUrl(base: string, clientId: string, challenge: string, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'openid xmpp',
    state: 'st4te',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  return `${base}/oauth2/authorize?${q}`;
}

/**
 * Register nothing, do everything else: authorization request (openid scope unless told),
 * the user's part, and the code exchange at `base`. Returns the token response body.
 */
export async function codeFlow(
  base: string,
  client: { client_id?: string; client_secret?: string },
  opts: { scope?: string; nonce?: string; browser?: TestBrowser; user?: string } = {},
): Promise<Record<string, unknown>> {
  const { verifier, challenge } = pkce();
  const extra: Record<string, string> = { scope: opts.scope ?? 'openid xmpp offline_access' };
  if (opts.nonce !== undefined) extra['nonce'] = opts.nonce;
  const back = await signInAndAllow(authorizationUrl(base, client.client_id!, challenge, extra), base, opts);
  const code = back.searchParams.get('code');
  if (code === null) throw new Error(`no code: ${back.href}`);
  const res = await token(base, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, basic(client.client_id!, client.client_secret!));
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}
