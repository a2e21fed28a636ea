/**
 * IMAP logins per second through a real Dovecot 2.3 (Debian's dovecot-imapd, a private instance
 * on 127.0.0.1, see test/interop/dovecot-imap.ts), one passdb per row, same client load, one
 * `gatehouse serve` (a child process: its CPU time is read from /proc) for every row:
 *  1. `passdb static` (the password compared with a fixed one): no auth work at all, the ceiling
 *     of Dovecot itself on this machine (the baseline);
 *  2. `passdb checkpassword` with a checkpassword program that answers by itself: what
 *     Dovecot's fork and exec of a program per login costs, without Gatehouse;
 *  3. `passdb checkpassword` with a program that asks Gatehouse's Dovecot auth face (the
 *     Dovecot auth client protocol, AUTH PLAIN, on its Unix socket), which asks its script.
 *     Dovecot 2.3 has no passdb that speaks the Dovecot auth protocol to another server (that
 *     protocol is what Dovecot serves, to Postfix and the like), and Debian's package has no Lua
 *     passdb; checkpassword is the passdb of 2.3 that can reach Gatehouse for a password;
 *  4. `passdb oauth2`, introspection (`introspection_mode = post`) of opaque access tokens at
 *     Gatehouse with a resource-server credential: one HTTP request to Gatehouse per login;
 *  5. `passdb oauth2`, JWT access tokens validated by Dovecot (`introspection_mode = local`,
 *     the issuer's key as a file): no request to Gatehouse at all.
 * Each row has a Dovecot of its own, all started before the measurement with the same settings
 * but the passdb (auth cache off, login and imap processes reused: the auth path is what
 * differs), and the rows run in short rounds, their order rotating (measureAll()). The client is this process speaking IMAP on `net` sockets: connect, greeting,
 * `a1 LOGIN` or `a1 AUTHENTICATE OAUTHBEARER <initial response>`, `a2 LOGOUT`, a fixed number of
 * logins at a fixed concurrency, bounded in time; the latency is from connect to the tagged OK
 * of the login. Every login must succeed (failures are printed, and the row is marked and its
 * rate not given), and after the measurement a wrong password or token must be refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { JsonWebKey } from 'node:crypto';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onFreePort } from '../test/helpers/net.js';
import { killOnTestExit, killWithScripts } from '../test/helpers/cleanup.js';
import { startDovecotImap, type DovecotImap, type DovecotImapExtra, type DovecotOAuthOptions } from '../test/interop/dovecot-imap.js';
import { closedLoop } from './lib/load.js';
import { gatehouseArgv } from './lib/node-flags.js';
import { fmt, printTable, quantile, sortedCopy } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = process.env.GATEHOUSE_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
/** Logins in flight from the client, the same for every row. */
const CONCURRENCY = 16;
/** Distinct users the logins cycle through (Dovecot limits connections per user and address). */
const USERS = 16;
const PASSWORD = 'secret';
const RS_SECRET = 'imap-bench-introspection-secret-0123456789';
const RESOURCE = 'imap://127.0.0.1';
const REGISTRATION_KEY = 'imap-bench-registration-key-0123456789abcdef';
/** Clock ticks per second of /proc/<pid>/stat (Linux's USER_HZ). */
const CLK_TCK = 100;

const user = (i: number): string => `user${i % USERS}`;

// ---------------------------------------------------------------- gatehouse serve

interface Serve {
  child: ChildProcess;
  issuer: string;
  origin: string;
  socket: string;
  stop(): Promise<void>;
}

/** `gatehouse serve` on a free port (another one if that port is taken before serve binds it). */
function startServe(dir: string): Promise<Serve> {
  return onFreePort((port) => startServeOn(dir, port));
}

async function startServeOn(dir: string, port: number): Promise<Serve> {
  const origin = `http://127.0.0.1:${port}`;
  const issuer = `${origin}/localhost`;
  const socket = join(dir, 'auth-client');
  const config = join(dir, 'gatehouse.toml');
  writeFileSync(
    config,
    `external_auth_command = ${JSON.stringify([PYTHON, join(ROOT, 'bench/scripts/fast.py')])}
http_ports = [${port}]
dovecot_auth_socket = ${JSON.stringify(socket)}
# Dovecot's auth process (user dovecot) runs the checkpassword program that connects.
dovecot_auth_socket_mode = 0o666
dovecot_default_host = "localhost"
data_dir = ${JSON.stringify(join(dir, 'data'))}
log_level = "warn"
oauth2_registration_key = "${REGISTRATION_KEY}"
oauth2_registration_rate_limit = 0
oauth2_token_rate_limit = 0
auth_failure_limit_address = 0
[hosts."localhost"]
oauth2_issuer = "${issuer}"
oauth2_password_grant = true
oauth2_introspection_credentials = ["dovecot:${RS_SECRET}:imap"]
oauth2_jwt_resources = ["${RESOURCE}"]
oauth2_jwt_typ = "JWT"
`,
  );
  const [node, ...argv] = gatehouseArgv('serve', '--config', config);
  const child = spawn(node!, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  killOnTestExit(() => killWithScripts(child));
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => killWithScripts(child), 5000);
    await exited;
    clearTimeout(t);
  };
  const end = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > end) {
      await stop();
      throw new Error(`gatehouse serve did not start:\n${err}`);
    }
    const ready = await fetch(`${origin}/readyz`).then((r) => r.ok, () => false);
    if (ready && existsSync(socket)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, issuer, origin, socket, stop };
}

/** CPU seconds (user + system) of `root` and every live process below it (its scripts). */
function cpuSeconds(root: number): number {
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(f[1]);
      // utime, stime, cutime, cstime (fields 14-17): the reaped children count too.
      ticks.set(Number(name), Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* gone meanwhile */
    }
  }
  let sum = 0;
  const walk = (pid: number): void => {
    sum += ticks.get(pid) ?? 0;
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return sum / CLK_TCK;
}

interface MetricsSample {
  /** The introspection route's latency histogram: cumulative counts by bucket bound. */
  introspect: Map<string, number>;
  /** Queries answered by the auth scripts (gatehouse_extauth_queries_total, every label). */
  scriptQueries: number;
}

async function metrics(origin: string): Promise<MetricsSample> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const out = new Map<string, number>();
  let scriptQueries = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('gatehouse_extauth_queries_total{')) scriptQueries += Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!line.startsWith('gatehouse_http_request_duration_seconds_bucket{') || !line.includes('introspect')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    out.set(le, (out.get(le) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return { introspect: out, scriptQueries };
}

interface Introspection {
  requests: number;
  /** Upper bounds of the buckets holding the 50th and 99th percentile, in ms. */
  p50: string;
  p99: string;
}

function histogramDelta(before: Map<string, number>, after: Map<string, number>): Introspection {
  const buckets = [...after.entries()].map(([le, n]) => ({ le, n: n - (before.get(le) ?? 0) }));
  const total = buckets.find((b) => b.le === '+Inf')?.n ?? 0;
  const finite = buckets.filter((b) => b.le !== '+Inf').sort((a, b) => Number(a.le) - Number(b.le));
  const at = (q: number): string => {
    if (total === 0) return '';
    const b = finite.find((x) => x.n >= q * total);
    return b === undefined ? '> 10 s' : `<= ${Number(b.le) * 1000} ms`;
  };
  return { requests: total, p50: at(0.5), p99: at(0.99) };
}

// ---------------------------------------------------------------- tokens

interface Tokens {
  opaque: string[];
  jwt: string[];
}

async function tokens(issuer: string): Promise<Tokens> {
  const reg = await fetch(`${issuer}/oauth2/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'IMAP bench mail app', client_uri: 'https://mail.example.net/', grant_types: ['password'], scope: 'imap' }),
  });
  const app = (await reg.json()) as { client_id?: string; client_secret?: string };
  if (reg.status !== 201) throw new Error(`registration: ${reg.status} ${JSON.stringify(app)}`);
  const auth = `Basic ${Buffer.from(`${encodeURIComponent(app.client_id!)}:${encodeURIComponent(app.client_secret!)}`).toString('base64')}`;
  const get = async (username: string, extra: Record<string, string>): Promise<string> => {
    const res = await fetch(`${issuer}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
      body: new URLSearchParams({ grant_type: 'password', username, password: PASSWORD, scope: 'imap', ...extra }).toString(),
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`token for ${username}: ${res.status} ${JSON.stringify(body)}`);
    return body['access_token'] as string;
  };
  const opaque: string[] = [];
  const jwt: string[] = [];
  for (let i = 0; i < USERS; i++) {
    opaque.push(await get(user(i), {}));
    jwt.push(await get(user(i), { resource: RESOURCE }));
  }
  return { opaque, jwt };
}

// ---------------------------------------------------------------- the IMAP client

interface Login {
  ok: boolean;
  /** Connect to the login's tagged answer. */
  ms: number;
  detail: string;
}

/** One session: greeting, the login command, LOGOUT. */
function imapLogin(port: number, command: string, timeoutMs = 15_000): Promise<Login> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = connect(port, '127.0.0.1');
    let buf = '';
    let state: 'greeting' | 'login' | 'logout' = 'greeting';
    let result: Login | null = null;
    const finish = (r: Login): void => {
      result ??= r;
      s.destroy();
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, ms: performance.now() - t0, detail: `timeout in ${state}` }), timeoutMs);
    s.setNoDelay(true);
    s.on('error', (e) => finish({ ok: false, ms: performance.now() - t0, detail: `${state}: ${e.message}` }));
    s.on('close', () => finish({ ok: false, ms: performance.now() - t0, detail: `closed in ${state}` }));
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let nl = buf.indexOf('\r\n'); nl !== -1; nl = buf.indexOf('\r\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (state === 'greeting') {
          if (!line.startsWith('* OK')) return finish({ ok: false, ms: performance.now() - t0, detail: `greeting: ${line}` });
          state = 'login';
          s.write(`a1 ${command}\r\n`);
        } else if (state === 'login') {
          // An OAUTHBEARER failure first comes as a challenge, which wants a dummy ^A (RFC 7628).
          if (line.startsWith('+')) s.write('AQ==\r\n');
          else if (line.startsWith('a1 ')) {
            const ms = performance.now() - t0;
            if (!line.startsWith('a1 OK')) return finish({ ok: false, ms, detail: line });
            result = { ok: true, ms, detail: '' };
            state = 'logout';
            s.write('a2 LOGOUT\r\n');
          }
        } else if (line.startsWith('a2 ')) {
          if (!line.startsWith('a2 OK')) result = { ok: false, ms: result!.ms, detail: `logout: ${line}` };
          return finish(result!);
        }
      }
    });
  });
}

const loginCommand = (username: string, password: string): string => `LOGIN ${username} ${password}`;
const oauthbearer = (username: string, port: number, token: string): string =>
  `AUTHENTICATE OAUTHBEARER ${Buffer.from(`n,a=${username},\x01host=127.0.0.1\x01port=${port}\x01auth=Bearer ${token}\x01\x01`).toString('base64')}`;

// ---------------------------------------------------------------- the rows

/** checkpassword programs (Dovecot's checkpassword interface: fd 3 in, exec the reply program). */
const CHECKPASSWORD_HEAD = `#!${PYTHON} -S
import os, sys
data = b""
while len(data) < 4096:
    chunk = os.read(3, 4096)
    if not chunk:
        break
    data += chunk
fields = data.split(b"\\0")
if len(fields) < 2:
    sys.exit(2)
user, password = fields[0], fields[1]
`;
const CHECKPASSWORD_REPLY = `os.environ["USER"] = user.decode()
os.execv(sys.argv[1], sys.argv[1:])
`;

function checkpasswordAlone(): string {
  return `${CHECKPASSWORD_HEAD}# Answers by itself: the exec cost of the checkpassword passdb, without Gatehouse.
if password != b"${PASSWORD}":
    sys.exit(1)
${CHECKPASSWORD_REPLY}`;
}

function checkpasswordGatehouse(socketPath: string): string {
  return `${CHECKPASSWORD_HEAD}# Asks Gatehouse's Dovecot auth face (the Dovecot auth client protocol, AUTH PLAIN).
import base64, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(${JSON.stringify(socketPath)})
    s.sendall(b"VERSION\\t1\\t2\\nCPID\\t%d\\n" % os.getpid())
    buf = b""
    while b"\\nDONE\\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(111)
        buf += chunk
    buf = buf.split(b"\\nDONE\\n", 1)[1]
    resp = base64.b64encode(b"\\0" + user + b"\\0" + password)
    s.sendall(b"AUTH\\t1\\tPLAIN\\tservice=imap\\tsecured\\tresp=" + resp + b"\\n")
    while b"\\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(111)
        buf += chunk
except OSError:
    sys.exit(111)
line = buf.split(b"\\n", 1)[0].split(b"\\t")
s.close()
if line[:2] != [b"OK", b"1"]:
    sys.exit(111 if b"temp" in line else 1)
${CHECKPASSWORD_REPLY}`;
}

interface Row {
  label: string;
  /** The Dovecot for this row. */
  dovecot: (serve: Serve, keys: (JsonWebKey & { kid: string })[]) => [DovecotOAuthOptions | null, DovecotImapExtra];
  /** The login command of client `i`, and one that must be refused. */
  command: (i: number, port: number, t: Tokens) => string;
  wrong: (port: number, t: Tokens) => string;
}

/** Process reuse (Dovecot's "high-performance" login mode, imap processes serving one client after another). */
const TUNING: DovecotImapExtra = {
  quiet: process.env['GH_BENCH_IMAP_DEBUG'] !== '1',
  imapLoginSettings: '  service_count = 0\n  process_min_avail = 2',
  extraConf: `service auth {
  client_limit = 2000
}
service imap {
  service_count = 0
  process_min_avail = ${CONCURRENCY}
}
protocol imap {
  mail_max_userip_connections = 1000
}
`,
};

function passwordRow(label: string, passdb: (dir: string, serve: Serve) => string, program?: (serve: Serve) => string): Row {
  return {
    label,
    dovecot: (serve) => [
      null,
      {
        ...TUNING,
        authMechanisms: 'plain login',
        ...(program === undefined ? {} : { prepare: (dir: string) => writeFileSync(join(dir, 'checkpassword'), program(serve), { mode: 0o755 }) }),
        passdbs: (dir) => passdb(dir, serve),
      },
    ],
    command: (i) => loginCommand(user(i), PASSWORD),
    wrong: () => loginCommand(user(0), 'wrong'),
  };
}

function oauthOptions(serve: Serve, keys: (JsonWebKey & { kid: string })[] | null): DovecotOAuthOptions {
  return {
    introspectionUrl: `${serve.issuer}/oauth2/introspect`,
    clientId: 'dovecot',
    clientSecret: RS_SECRET,
    // With client_id set, Dovecot's local validation wants it in the JWT's aud (the resource).
    credentialsIn: keys === null ? 'settings' : 'url',
    scope: 'imap',
    ...(keys === null ? {} : { localValidation: { issuer: serve.issuer, keys } }),
  };
}

const ROWS: Row[] = [
  passwordRow('static passdb: no auth work, Dovecot alone (baseline)', () => `passdb {\n  driver = static\n  args = password=${PASSWORD}\n}`),
  passwordRow('checkpassword, program answering alone (exec cost, no Gatehouse)', (dir) => `passdb {\n  driver = checkpassword\n  args = ${dir}/checkpassword\n}`, () => checkpasswordAlone()),
  passwordRow('checkpassword -> Gatehouse Dovecot face -> script', (dir) => `passdb {\n  driver = checkpassword\n  args = ${dir}/checkpassword\n}`, (serve) => checkpasswordGatehouse(serve.socket)),
  {
    label: 'oauth2 passdb, introspection at Gatehouse (opaque token)',
    dovecot: (serve) => [oauthOptions(serve, null), { ...TUNING }],
    command: (i, port, t) => oauthbearer(user(i), port, t.opaque[i % USERS]!),
    wrong: (port, t) => oauthbearer(user(0), port, t.opaque[1]!),
  },
  {
    label: 'oauth2 passdb, JWT validated by Dovecot (no request to Gatehouse)',
    dovecot: (serve, keys) => [oauthOptions(serve, keys), { ...TUNING }],
    command: (i, port, t) => oauthbearer(user(i), port, t.jwt[i % USERS]!),
    wrong: (port, t) => oauthbearer(user(0), port, t.jwt[1]!),
  },
];

interface Measured {
  row: Row;
  logins: number;
  seconds: number;
  latencies: number[];
  failures: string[];
  /** Logins not started: the time bound ended the row first. */
  cut: number;
  cpu: number;
  introspection: Introspection;
  /** Gatehouse's auth script queries over the measured logins. */
  scriptQueries: number;
  wrongRefused: boolean;
}

interface Running {
  m: Measured;
  dovecot: DovecotImap;
  /** Introspection histogram deltas, summed over the rounds. */
  introspect: Map<string, number>;
}

/** One round of one row: `count` logins (bounded by `seconds`), added to its totals. */
async function round(x: Running, serve: Serve, t: Tokens, limits: { count: number; seconds: number }): Promise<void> {
  const { m, dovecot } = x;
  const port = dovecot.port;
  const cpu0 = cpuSeconds(serve.child.pid!);
  const m0 = await metrics(serve.origin);
  let n = 0;
  const r = await closedLoop(
    CONCURRENCY,
    async (c) => {
      const i = n++;
      const login = await imapLogin(port, m.row.command(c + i, port, t));
      if (login.ok) m.latencies.push(login.ms);
      else m.failures.push(login.detail);
    },
    { maxCount: limits.count, maxMs: limits.seconds * 1000 },
  );
  m.cpu += cpuSeconds(serve.child.pid!) - cpu0;
  const m1 = await metrics(serve.origin);
  for (const [le, v] of m1.introspect) x.introspect.set(le, (x.introspect.get(le) ?? 0) + v - (m0.introspect.get(le) ?? 0));
  m.scriptQueries += m1.scriptQueries - m0.scriptQueries;
  m.logins += r.count;
  m.seconds += r.seconds;
  m.cut += limits.count - r.count;
}

/**
 * Every row's Dovecot started at once (on ports of their own), then `rounds` short rounds,
 * the rows' order rotating from round to round: the machine's speed drifts (here, other work
 * comes and goes), and one long run per row would compare different machines.
 */
async function measureAll(serve: Serve, rows: Row[], limits: { count: number; seconds: number; rounds: number }): Promise<Measured[]> {
  const keys = ((await (await fetch(`${serve.issuer}/oauth2/jwks`)).json()) as { keys: (JsonWebKey & { kid: string })[] }).keys;
  const running: Running[] = [];
  try {
    for (const row of rows) {
      const [oauth, extra] = row.dovecot(serve, keys);
      const dovecot = await startDovecotImap(oauth, extra);
      running.push({
        m: { row, logins: 0, seconds: 0, latencies: [], failures: [], cut: 0, cpu: 0, introspection: { requests: 0, p50: '', p99: '' }, scriptQueries: 0, wrongRefused: false },
        dovecot,
        introspect: new Map(),
      });
    }
    let t = await tokens(serve.issuer);
    // Warm-up: processes started, connections to Gatehouse open; not counted.
    for (const { m, dovecot } of running) {
      await closedLoop(CONCURRENCY, (c) => imapLogin(dovecot.port, m.row.command(c, dovecot.port, t)), { maxCount: 2 * CONCURRENCY, maxMs: 20_000 });
    }
    for (let r = 0; r < limits.rounds; r++) {
      // Fresh tokens every round: the JWTs live 300 s (oauth2_jwt_access_token_ttl).
      if (r > 0) t = await tokens(serve.issuer);
      const order = running.map((_, i) => running[(i + r) % running.length]!);
      for (const x of order) await round(x, serve, t, { count: Math.ceil(limits.count / limits.rounds), seconds: limits.seconds / limits.rounds });
    }
    for (const x of running) {
      const { m, dovecot } = x;
      m.introspection = histogramDelta(new Map(), x.introspect);
      // Afterwards (a failure may slow down the next logins from this address): a wrong
      // password or another user's token must be refused, or the row let anyone in.
      m.wrongRefused = !(await imapLogin(dovecot.port, m.row.wrong(dovecot.port, t))).ok;
      if (m.failures.length > 0) console.error(`\n${m.row.label}: ${m.failures.length} failed logins, e.g. ${[...new Set(m.failures)].slice(0, 5).join(' | ')}\n${dovecot.logTail(15)}`);
    }
    return running.map((x) => x.m);
  } finally {
    for (const x of running) await x.dovecot.stop();
  }
}

/**
 * IMAP logins per second through a private Dovecot, one passdb per row, with Gatehouse's CPU and
 * its introspection endpoint's load. Needs Debian's dovecot-imapd and root (Dovecot runs its
 * processes as dovecot, dovenull and nobody); loopback only, every Dovecot stopped after its row.
 */
export async function runImapBench(quick: boolean): Promise<void> {
  const limits = { count: quick ? 100 : 2000, seconds: quick ? 30 : 120, rounds: quick ? 2 : 4 };
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-imap-'));
  chmodSync(dir, 0o755);
  const load = loadavg()[0]!;
  let serve: Serve | null = null;
  let idleRate = 0;
  const results: Measured[] = [];
  try {
    serve = await startServe(dir);
    // What serve spends doing nothing (timers, its idle scripts), subtracted from every row.
    const idle0 = cpuSeconds(serve.child.pid!);
    const idleT0 = performance.now();
    await new Promise((r) => setTimeout(r, quick ? 2000 : 5000));
    idleRate = (cpuSeconds(serve.child.pid!) - idle0) / ((performance.now() - idleT0) / 1000);
    // GH_BENCH_IMAP_ROWS=1,4 runs only those rows (1-based), to look at one closely.
    const pick = process.env['GH_BENCH_IMAP_ROWS']?.split(',').map(Number) ?? null;
    results.push(...(await measureAll(serve, ROWS.filter((_, i) => pick === null || pick.includes(i + 1)), limits)));
  } finally {
    await serve?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = results[0]!;
  const rate = (m: Measured): number => m.logins / m.seconds;
  const valid = (m: Measured): boolean => m.failures.length === 0 && m.logins > 0 && m.wrongRefused;
  const notes = (m: Measured): string =>
    [m.failures.length > 0 ? 'NOT VALID: failed logins' : '', m.wrongRefused ? '' : 'NOT VALID: a wrong credential logged in', m.cut > 0 ? `time bound: ${m.cut} logins not started` : '']
      .filter(Boolean)
      .join(', ');
  printTable(
    `IMAP logins through Dovecot 2.3, ${CONCURRENCY} concurrent clients, ${limits.count} logins per row in ${limits.rounds} rounds, at most ${limits.seconds} s per row (load avg ${load.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end)`,
    ['row', 'logins', 'concurrency', 'logins/s', 'vs static', 'p50 ms', 'p99 ms', 'failures', 'Gatehouse CPU s / 1000 logins', 'introspection requests (per s)', 'introspection p50 / p99', 'script queries'],
    results.map((m) => [
      notes(m) === '' ? m.row.label : valid(m) ? `${m.row.label} (${notes(m)})` : `**${m.row.label} (${notes(m)})**`,
      m.logins,
      CONCURRENCY,
      valid(m) ? fmt.rate(rate(m)) : '-',
      valid(m) && valid(base) && m !== base ? fmt.pct(rate(m) / rate(base)) : '',
      quantile(sortedCopy(m.latencies), 0.5).toFixed(1),
      quantile(sortedCopy(m.latencies), 0.99).toFixed(1),
      m.failures.length,
      ((Math.max(0, m.cpu - idleRate * m.seconds) / Math.max(1, m.logins)) * 1000).toFixed(2),
      m.introspection.requests === 0 ? '0' : `${m.introspection.requests} (${fmt.rate(m.introspection.requests / m.seconds)})`,
      m.introspection.requests === 0 ? '' : `${m.introspection.p50} / ${m.introspection.p99}`,
      m.scriptQueries,
    ]),
  );
  console.log(
    `\n- Gatehouse CPU: \`gatehouse serve\` and its script processes (utime + stime from /proc) over the measured logins, less its idle rate (${(idleRate * 1000).toFixed(1)} ms of CPU per second, measured before the rows). Introspection: requests counted by its \`/metrics\` histogram over the measured logins, the percentiles as the histogram's bucket bounds.`,
  );
  if (results.some((m) => !valid(m))) process.exitCode = 1;
}
