/**
 * Fuzzing of running servers (issue 13): random requests to every HTTP route, and random
 * Dovecot protocol lines, against a real Gatehouse with a real auth script (fast.mjs, whose
 * answers are the oracle: auth is yes only for the password `secret` or `pw-<user>`).
 * Invariants: never a 5xx, never a hang (every answer within a deadline), never a yes where
 * the oracle says no, and the server still serves afterwards. Shared by the test suite and
 * the campaign (bench/fuzz.ts).
 */
import { connect } from 'node:net';
import fc from 'fast-check';

/** Every route a host serves, relative to its issuer or to the root. */
export const ISSUER_PATHS = [
  '/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/oauth2/register', '/oauth2/authorize',
  '/oauth2/authorize/login', '/oauth2/authorize/consent', '/oauth2/token', '/oauth2/revoke', '/oauth2/introspect',
  '/oauth2/userinfo', '/oauth2/jwks', '/oauth2/device', '/oauth2/device/verify', '/oauth2/device/login', '/oauth2/device/consent',
  '/oauth2/device/done', '/oauth2/logout', '/oauth2/logout/confirm', '/oauth2/style.css', '/account', '/account/login',
  '/account/revoke', '/account/password', '/account/signout',
];
export const ROOT_PATHS = ['/healthz', '/readyz', '/metrics', '/auth/check_password', '/auth/user_exists', '/auth/register', '/auth/set_password', '/auth/remove_user', '/nope'];

const oracleYes = (user: string, pass: string) => pass === 'secret' || pass === `pw-${user}`;

/** Decode a query the way RFC 3986 / the form spec says, or null when malformed or repeated. */
function strictDecode(text: string): Map<string, string> | null {
  const out = new Map<string, string>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const dec = (s: string): string | null => {
      try {
        if (/%(?![0-9A-Fa-f]{2})/.test(s)) return null;
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return null;
      }
    };
    const k = dec(eq < 0 ? pair : pair.slice(0, eq));
    const v = eq < 0 ? '' : dec(pair.slice(eq + 1));
    if (k === null || v === null || out.has(k)) return null;
    out.set(k, v);
  }
  return out;
}

const junkText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.array(fc.constantFrom('a', '=', '&', '%', '%ZZ', '%ce', '%C3%A9', '+', 'code', 'token', 'grant_type', 'client_id', 'user', 'pass', 'server', '%00', '%0A', 'null', '[]'), { maxLength: 12 }).map((a) => a.join('')),
);

const credentialQuery = fc
  .tuple(fc.constantFrom('alice', 'Alice', 'dave', 'DAVE', 'ali%63e', 'al%ce', 'bob', ''), fc.constantFrom('localhost', 'LOCALHOST', 'other.example', ''), fc.constantFrom('secret', 'pw-alice', 'pw-dave', 'wrong', 'secre%74', '%ZZ', 'secret%0A', '', 'secret&pass=secret'))
  .map(([u, s, p]) => `user=${u}&server=${s}&pass=${p}`);

const randomRequest = fc.record({
  method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH'),
  // Mostly the issuer's routes (the OAuth surface), sometimes an issuer route at the root.
  root: fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 }),
  path: fc.oneof({ arbitrary: fc.constantFrom(...ISSUER_PATHS), weight: 6 }, { arbitrary: fc.constantFrom(...ROOT_PATHS), weight: 1 }, { arbitrary: fc.constantFrom('/auth/check_password', '/auth/set_password'), weight: 2 }),
  suffix: fc.constantFrom('', '', '', '/', '//', '/..', '%2F', '/x'),
  query: fc.oneof(fc.constant(''), junkText, credentialQuery),
  contentType: fc.constantFrom(undefined, 'application/x-www-form-urlencoded', 'application/x/www-form-urlencoded', 'application/json', 'application/json', 'application/json; charset=utf-16', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded; charset=latin1', 'x/y', ''),
  body: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 2 },
    { arbitrary: junkText, weight: 1 },
    { arbitrary: credentialQuery, weight: 1 },
    { arbitrary: fc.json({ maxDepth: 2 }), weight: 1 },
    { arbitrary: fc.constantFrom('null', '{"code":123}', '{"code":["a"]}', '{"refresh_token":{"a":1}}', '{"token":null}', '{"token":{"x":1}}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', '[]', '"x"'), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)), weight: 1 },
  ),
  auth: fc.constantFrom(undefined, 'Basic Og==', 'Basic !!!', 'Bearer x', 'Bearer', 'Basic ' + Buffer.from('a:b').toString('base64')),
});

/** Form endpoints sent what a careless or hostile client sends: no body, JSON, a wrong type. */
const edgeRequest = fc.record({
  method: fc.constant('POST'),
  root: fc.constant(false),
  path: fc.constantFrom('/oauth2/token', '/oauth2/revoke', '/oauth2/introspect', '/oauth2/authorize/login', '/oauth2/authorize/consent', '/oauth2/authorize', '/oauth2/device', '/oauth2/userinfo', '/oauth2/logout', '/oauth2/register', '/account/login', '/auth/set_password', '/auth/register'),
  suffix: fc.constant(''),
  query: fc.oneof(fc.constant(''), junkText),
  contentType: fc.constantFrom(undefined, 'application/json', 'application/x-www-form-urlencoded', 'text/plain'),
  body: fc.oneof(fc.constant(undefined), fc.constantFrom('null', '{"code":123}', '{"grant_type":"refresh_token","refresh_token":{"a":1}}', '{"token":null}', '{"token":{"x":1}}', 'token=%ZZ', 'user=ali%ce&server=localhost&pass=x'), junkText),
  auth: fc.constantFrom(undefined, 'Basic ' + Buffer.from('a:b').toString('base64')),
});

const request = fc.oneof({ arbitrary: randomRequest, weight: 3 }, { arbitrary: edgeRequest, weight: 1 });

export interface RouteFuzzTarget {
  readonly origin: string;
  /** The issuer's path, e.g. `/localhost`. */
  readonly issuerPath: string;
}

export interface RouteFuzzStats {
  requests: number;
  byStatus: Record<string, number>;
}

/** Random requests to every route: header comment. `deadlineMs` bounds each answer. */
export async function fuzzRoutes(target: RouteFuzzTarget, runs: number, options: { seed?: number; deadlineMs?: number; stats?: RouteFuzzStats } = {}): Promise<void> {
  const deadlineMs = options.deadlineMs ?? 10_000;
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const path = `${r.root || r.path.startsWith('/auth') || ROOT_PATHS.includes(r.path) ? '' : target.issuerPath}${r.path}${r.suffix}`;
      const url = `${target.origin}${path}${r.query === '' ? '' : `?${r.query}`}`;
      const headers: Record<string, string> = {};
      if (r.contentType !== undefined) headers['content-type'] = r.contentType;
      if (r.auth !== undefined) headers['authorization'] = r.auth;
      const hasBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
      let res: Response;
      try {
        res = await fetch(url, { method: r.method, headers, ...(hasBody ? { body: r.body as string | Buffer } : {}), redirect: 'manual', signal: AbortSignal.timeout(deadlineMs) });
      } catch (err) {
        throw new Error(`${r.method} ${url}: no answer (${(err as Error).name}: ${(err as Error).message})`);
      }
      const text = await res.text();
      if (options.stats !== undefined) {
        options.stats.requests++;
        options.stats.byStatus[res.status] = (options.stats.byStatus[res.status] ?? 0) + 1;
      }
      // /readyz's 503 is its answer "not ready" (scripts still settling), not a failure.
      if (res.status >= 500 && !(res.status === 503 && path === '/readyz')) throw new Error(`${r.method} ${url} (${r.contentType}) answered ${res.status}: ${text.slice(0, 200)}`);
      // The oracle: check_password says true only for credentials the script accepts, as sent.
      if (path === '/auth/check_password' && r.method === 'GET' && text === 'true') {
        const q = strictDecode(r.query);
        if (q === null || !oracleYes(q.get('user') ?? '', q.get('pass') ?? '')) throw new Error(`check_password said yes to ${r.query}`);
      }
    }),
    { numRuns: runs, endOnFailure: true, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  );
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** Lines a Dovecot client might send, well-formed or not. */
const dovecotLine = fc.oneof(
  fc.tuple(fc.nat(50), fc.constantFrom('PLAIN', 'LOGIN', 'plain', 'X'), fc.constantFrom('alice', 'alice@localhost', 'Alice', 'bob', 'alice@other.example', 'a\x01lice', ''), fc.constantFrom('secret', 'pw-bob', 'wrong', '', 'sec\tret'), fc.constantFrom('', '\tservice=smtp', '\tresp=', '\tsecured', '\trip=127.0.0.1'))
    .map(([id, mech, user, pass, extra]) => ({ id, user, pass, text: `AUTH\t${id}\t${mech}\tservice=imap${extra}\tresp=${b64(`\0${user}\0${pass}`)}` })),
  fc.tuple(fc.nat(50), fc.string({ maxLength: 40 })).map(([id, s]) => ({ id: -1, user: '', pass: '', text: `CONT\t${id}\t${s}` })),
  fc.string({ maxLength: 80 }).map((s) => ({ id: -1, user: '', pass: '', text: s.replace(/\n/g, '') })),
  fc.constantFrom('VERSION\t1\t2', 'CPID\t1', 'VERSION\t2\t0', 'AUTH', 'AUTH\t1', 'AUTH\t1\tPLAIN\tresp=!!!', 'AUTH\t1\tPLAIN\tservice=imap\tresp=AGFsaWNlAHNlY3JldA==\tresp=x').map((text) => ({ id: -1, user: '', pass: '', text })),
);

/**
 * Random sessions on the Dovecot face: every `OK id` must answer an AUTH whose PLAIN
 * credentials the oracle accepts for the default host (`localhost`); nothing but FAIL or a
 * close otherwise. Each session ends within `deadlineMs`.
 */
export async function fuzzDovecot(port: number, runs: number, options: { seed?: number; deadlineMs?: number } = {}): Promise<void> {
  const deadlineMs = options.deadlineMs ?? 10_000;
  await fc.assert(
    fc.asyncProperty(fc.array(dovecotLine, { minLength: 1, maxLength: 6 }), async (lines) => {
      const sent = new Map<string, { user: string; pass: string }[]>();
      for (const l of lines) if (l.id >= 0) sent.set(String(l.id), [...(sent.get(String(l.id)) ?? []), { user: l.user, pass: l.pass }]);
      const received = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let data = '';
        const timer = setTimeout(() => {
          socket.destroy();
          // A request left unanswered while the connection stays open is a hang.
          reject(new Error(`no answer within ${deadlineMs} ms to ${JSON.stringify(lines.map((l) => l.text))}: ${JSON.stringify(data)}`));
        }, deadlineMs);
        socket.on('data', (d: Buffer) => {
          data += d.toString('utf8');
          // Every request answered, or waiting for the client's turn (CONT): done.
          const answered = new Set(data.split('\n').map((x) => /^(?:OK|FAIL|CONT)\t([^\t]*)/.exec(x)?.[1]).filter((x) => x !== undefined));
          if ([...sent.keys()].every((id) => answered.has(id)) && data.includes('DONE\n')) {
            clearTimeout(timer);
            socket.end();
            resolve(data);
          }
        });
        socket.on('error', () => undefined);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(data);
        });
        socket.on('connect', () => socket.write(`VERSION\t1\t2\nCPID\t7\n${lines.map((l) => l.text).join('\n')}\n`));
      });
      for (const line of received.split('\n')) {
        const m = /^OK\t([^\t]*)/.exec(line);
        if (m === null) continue;
        const auths = sent.get(m[1]!) ?? [];
        const ok = auths.some(({ user, pass }) => {
          const at = user.lastIndexOf('@');
          const name = at > 0 ? user.slice(0, at) : user;
          const host = at > 0 ? user.slice(at + 1) : 'localhost';
          return host === 'localhost' && name !== '' && oracleYes(name, pass);
        });
        if (!ok) throw new Error(`OK for ${JSON.stringify(auths)}: ${line} after ${JSON.stringify(lines.map((l) => l.text))}`);
      }
    }),
    { numRuns: runs, endOnFailure: true, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  );
}
