/**
 * The client side of the OAuth benchmark: registration, Gatehouse's browser flow (authorize,
 * login once per browser, consent) to mint authorization codes, and one code exchange.
 */
import { createHash, randomBytes } from 'node:crypto';

export const REDIRECT_URI = 'https://app.example.net/callback';
export const SCOPE = 'xmpp offline_access';

/** The metadata every registration sends, to both servers. */
export const CLIENT_METADATA = {
  client_name: 'Bench Chat',
  client_uri: 'https://app.example.net/',
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: SCOPE,
};

export interface Client {
  clientId: string;
  secret: string;
  /** The Authorization header of client_secret_basic (RFC 6749 §2.3.1). */
  basic: string;
}

export async function registerClient(url: string): Promise<Client> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CLIENT_METADATA) });
  const body = (await res.json()) as { client_id?: string; client_secret?: string };
  if (res.status !== 201 || body.client_id === undefined || body.client_secret === undefined) {
    throw new Error(`registration at ${url} answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(body.client_id)}:${encodeURIComponent(body.client_secret)}`).toString('base64')}`;
  return { clientId: body.client_id, secret: body.client_secret, basic };
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The token request body that exchanges `code`. */
export function exchangeBody(code: string, verifier: string): string {
  return new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI }).toString();
}

/** The token request body that spends `refreshToken` (RFC 6749 §6). */
export function refreshBody(refreshToken: string): string {
  return new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString();
}

/** Exchange one code over HTTP; returns the access token and the refresh token, if any. */
export async function exchangeTokens(tokenUrl: string, client: Client, code: string, verifier: string): Promise<{ access: string; refresh?: string }> {
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: client.basic },
    body: exchangeBody(code, verifier),
  });
  const body = (await res.json()) as { access_token?: string; refresh_token?: string };
  if (res.status !== 200 || body.access_token === undefined) throw new Error(`code exchange at ${tokenUrl} answered ${res.status}: ${JSON.stringify(body)}`);
  return body.refresh_token === undefined ? { access: body.access_token } : { access: body.access_token, refresh: body.refresh_token };
}

/** Exchange one code over HTTP; returns the access token. */
export async function exchange(tokenUrl: string, client: Client, code: string, verifier: string): Promise<string> {
  return (await exchangeTokens(tokenUrl, client, code, verifier)).access;
}

/** A cookie jar with manual redirects: enough of a browser for the login and consent forms. */
class Browser {
  readonly #jar = new Map<string, string>();

  async send(url: string, form?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.#jar.size > 0) headers['cookie'] = [...this.#jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method: form === undefined ? 'GET' : 'POST', headers, redirect: 'manual', ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }) });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0]!;
      const eq = pair.indexOf('=');
      this.#jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&quot;': '"', '&#39;': "'", '&lt;': '<', '&gt;': '>' };

function field(page: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(page);
  if (m === null) throw new Error(`no field ${name} in page: ${page.slice(0, 300)}`);
  return m[1]!.replace(/&(amp|quot|#39|lt|gt);/g, (e) => ENTITIES[e]!);
}

/**
 * Mint `count` authorization codes at Gatehouse the way a user does: GET /oauth2/authorize,
 * the login form (once per browser; later requests of that browser go straight to consent),
 * then the consent form; the code is in the 303's Location. Returns [code, verifier] pairs.
 */
export async function gatehouseCodes(authorizeUrl: string, client: Client, count: number, browsers = 4): Promise<string[][]> {
  const out: string[][] = [];
  let started = 0;
  const deadline = Date.now() + 120_000;
  const worker = async (): Promise<void> => {
    const b = new Browser();
    while (started < count) {
      if (Date.now() > deadline) throw new Error(`minting ${count} codes took over 120 s`);
      started++;
      const { verifier, challenge } = pkcePair();
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: REDIRECT_URI,
        scope: SCOPE,
        state: randomBytes(8).toString('base64url'),
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      let html = await (await b.send(`${authorizeUrl}?${q}`)).text();
      if (html.includes('name="password"')) {
        const login = await b.send(`${authorizeUrl}/login`, { request: field(html, 'request'), csrf: field(html, 'csrf'), username: 'alice', password: 'secret' });
        if (login.status !== 303) throw new Error(`login answered ${login.status}: ${(await login.text()).slice(0, 300)}`);
        html = await (await b.send(new URL(login.headers.get('location')!, authorizeUrl).toString())).text();
      }
      const consent = await b.send(`${authorizeUrl}/consent`, { request: field(html, 'request'), csrf: field(html, 'csrf'), decision: 'allow' });
      const code = consent.status === 303 ? new URL(consent.headers.get('location')!).searchParams.get('code') : null;
      if (code === null) throw new Error(`consent answered ${consent.status}: ${(await consent.text()).slice(0, 300)}`);
      await consent.body?.cancel();
      out.push([code, verifier]);
    }
  };
  await Promise.all(Array.from({ length: browsers }, () => worker()));
  return out;
}
