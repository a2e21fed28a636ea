/**
 * The scale benchmark: Gatehouse's token endpoint and introspection on each storage and
 * instance count it supports, measured in one run, same machine, same load (wrk, 2 threads,
 * 32 connections in all), every server in its own process on 127.0.0.1:
 *  (a) SQLite, 1 instance: the baseline row;
 *  (b) PostgreSQL, 1 instance;
 *  (c) PostgreSQL, 2 instances sharing the database and the registration key, the load split
 *      over both (one wrk per instance, 1 thread and 16 connections each, run at the same time).
 * Endpoints: authorization-code exchange (each code used once), refresh_token grant (each
 * refresh token used once: it rotates), introspection (RFC 7662) of one active access token.
 * Every response is checked (status and body) by bench/wrk/*.lua; errors show in the table.
 *
 * Each PostgreSQL setup gets a private schema (lib/pg-schema.ts: the server, and how to find a
 * schema a killed run left behind); when the server is unreachable the PostgreSQL rows say so
 * and the SQLite row is still measured.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exchange, exchangeBody, exchangeTokens, gatehouseCodes, refreshBody, registerClient, type Client } from './oauth/flow.js';
import { startServer, type ServerProcess } from './oauth/servers.js';
import { runWrk, WRK_CONNECTIONS, WRK_THREADS, wrkVersion, type WrkResult, type WrkRun } from './oauth/wrk.js';
import { createSchema, PG_URL } from './lib/pg-schema.js';
import { fmt, printTable } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HEADER = ['endpoint', 'setup', 'requests/s', 'p50', 'p99', 'errors', 'vs SQLite, 1 instance'];

interface Settings {
  warmupS: number;
  measureS: number;
  /** Codes (or refresh tokens) per measured run, and per warm-up. */
  codes: number;
  warmupCodes: number;
}

interface Setup {
  label: string;
  postgres: boolean;
  instances: 1 | 2;
}

const SETUPS: readonly Setup[] = [
  { label: 'SQLite, 1 instance', postgres: false, instances: 1 },
  { label: 'PostgreSQL, 1 instance', postgres: true, instances: 1 },
  { label: 'PostgreSQL, 2 instances', postgres: true, instances: 2 },
];

type EndpointKey = 'code' | 'refresh' | 'introspect';

/** The runs of one measurement, one per instance, made at the same time, and their total. */
interface Combined {
  runs: WrkResult[];
  ok: number;
  errors: number;
  rate: number;
  sample: string | null;
  /** The measured window, seconds (the union of the runs' windows for runs that end when spent). */
  seconds: number;
}

interface Running {
  servers: ServerProcess[];
  client: Client;
}

/**
 * One wrk per instance, all at once, splitting WRK_THREADS threads and WRK_CONNECTIONS
 * connections between them, so the load generator is the same whatever the instance count.
 * `envOf(i)` adds instance i's environment (its codes file).
 */
async function load(servers: ServerProcess[], url: (s: ServerProcess) => string, run: Omit<WrkRun, 'url' | 'threads' | 'connections'>, envOf: (i: number) => Record<string, string> = () => ({})): Promise<Combined> {
  const n = servers.length;
  const runs = await Promise.all(
    servers.map((server, i) =>
      runWrk(ROOT, { ...run, url: url(server), env: { ...run.env, ...envOf(i) }, threads: WRK_THREADS / n, connections: WRK_CONNECTIONS / n }),
    ),
  );
  const ok = runs.reduce((a, r) => a + r.ok, 0);
  let rate: number;
  let seconds: number;
  if (run.untilExhausted && n > 1) {
    // Runs that end when their codes are spent do not end together: every answer over the
    // union of the windows (one monotonic clock for every process).
    const first = Math.min(...runs.map((r) => r.firstUs));
    const last = Math.max(...runs.map((r) => r.lastUs));
    seconds = (last - first) / 1e6;
    rate = seconds > 0 ? ok / seconds : 0;
  } else {
    // Fixed-length runs made at the same time: their rates add up.
    rate = runs.reduce((a, r) => a + r.rate, 0);
    seconds = Math.max(...runs.map((r) => r.seconds));
  }
  return {
    runs,
    ok,
    errors: runs.reduce((a, r) => a + r.bad + r.socketErrors, 0),
    rate,
    sample: runs.find((r) => r.sample !== null)?.sample ?? null,
    seconds,
  };
}

/** `items` dealt round-robin into `n` files in `dir`; returns their paths. */
function dealFiles(dir: string, name: string, items: string[], n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const f = join(dir, `${name}-${i}.txt`);
    writeFileSync(f, `${items.filter((_, j) => j % n === i).join('\n')}\n`);
    return f;
  });
}

/** Warm-up then measurement of single-use token requests (codes.lua), one file per instance. */
async function spend(r: Running, s: Settings, dir: string, name: string, bodies: string[]): Promise<Combined> {
  const n = r.servers.length;
  const warm = dealFiles(dir, `${name}-warmup`, bodies.slice(0, s.warmupCodes), n);
  const measured = dealFiles(dir, name, bodies.slice(s.warmupCodes), n);
  const env = { GH_AUTH: r.client.basic, GH_EXPECT_STATUS: '200', GH_EXPECT_BODY: '"access_token"' };
  const token = (x: ServerProcess) => x.endpoints.token;
  await load(r.servers, token, { script: 'codes.lua', seconds: s.warmupS, env, untilExhausted: true }, (i) => ({ GH_CODES: warm[i]! }));
  return load(r.servers, token, { script: 'codes.lua', seconds: s.measureS, env, untilExhausted: true }, (i) => ({ GH_CODES: measured[i]! }));
}

/** Codes minted at the first instance: the database is shared, any instance redeems them. */
async function mintCodes(r: Running, count: number): Promise<string[][]> {
  return gatehouseCodes(r.servers[0]!.endpoints.authorize!, r.client, count, 8);
}

async function codeExchange(r: Running, s: Settings, dir: string): Promise<Combined> {
  const pairs = await mintCodes(r, s.warmupCodes + s.codes);
  return spend(r, s, dir, 'codes', pairs.map(([code, verifier]) => exchangeBody(code!, verifier!)));
}

async function refreshGrant(r: Running, s: Settings, dir: string): Promise<Combined> {
  const pairs = await mintCodes(r, s.warmupCodes + s.codes);
  const tokens: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pairs.length) {
      const [code, verifier] = pairs[next++]!;
      const t = await exchangeTokens(r.servers[0]!.endpoints.token, r.client, code!, verifier!);
      if (t.refresh === undefined) throw new Error('the code exchange issued no refresh token (scope offline_access, grant refresh_token)');
      tokens.push(t.refresh);
    }
  };
  await Promise.all(Array.from({ length: 8 }, () => worker()));
  return spend(r, s, dir, 'refresh', tokens.map(refreshBody));
}

/** Introspection of one access token, at every instance. */
async function introspection(r: Running, s: Settings): Promise<Combined> {
  const [pair] = await mintCodes(r, 1);
  const token = await exchange(r.servers[0]!.endpoints.token, r.client, pair![0]!, pair![1]!);
  const env = {
    GH_BODY: new URLSearchParams({ token }).toString(),
    GH_CONTENT_TYPE: 'application/x-www-form-urlencoded',
    GH_AUTH: r.client.basic,
    GH_EXPECT_STATUS: '200',
    GH_EXPECT_BODY: '"active":true',
  };
  const url = (x: ServerProcess) => x.endpoints.introspect;
  await load(r.servers, url, { script: 'post.lua', seconds: s.warmupS, env });
  return load(r.servers, url, { script: 'post.lua', seconds: s.measureS, env });
}


function latencyCell(c: Combined, which: 'p50Ms' | 'p99Ms'): string {
  const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 2 : 1)} ms` : 'n/a');
  return c.runs.map((r) => ms(r[which])).join(' / ');
}

/**
 * Print the scale table: code exchanges, refreshes and introspections per second on SQLite
 * (1 instance, the baseline), PostgreSQL (1 instance) and PostgreSQL (2 instances).
 * `quick` shortens every run (a smoke check, not numbers). About 90 s in full (minting codes
 * through the browser flow is most of it), 30 s quick.
 */
export async function runScaleBench(quick: boolean): Promise<void> {
  const s: Settings = quick ? { warmupS: 1, measureS: 1, codes: 500, warmupCodes: 100 } : { warmupS: 1, measureS: 3, codes: 3000, warmupCodes: 300 };
  const title = `Scale: token endpoint and introspection by storage and instance count, wrk ${WRK_THREADS} threads / ${WRK_CONNECTIONS} connections in all (SQLite, 1 instance, is the baseline)`;
  const wrk = wrkVersion();
  if (wrk === null) {
    printTable(title, HEADER, [['(skipped: wrk is not installed)', '', '', '', '', '', '']]);
    return;
  }
  const endpoints: [EndpointKey, string][] = [
    ['code', `authorization-code exchange (up to ${s.codes.toLocaleString('en-US')} codes, each once)`],
    ['refresh', `refresh_token grant (up to ${s.codes.toLocaleString('en-US')} tokens, each once)`],
    ['introspect', 'introspection (one active access token)'],
  ];
  const results = new Map<string, Combined | string>();
  const notes: string[] = [];
  let pgSettings: string | null = null;
  const load0 = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-scale-'));
  try {
    for (const setup of SETUPS) {
      let schema: Awaited<ReturnType<typeof createSchema>> | null = null;
      const servers: ServerProcess[] = [];
      try {
        const env: Record<string, string> = {};
        if (setup.postgres) {
          try {
            schema = await createSchema();
          } catch (err) {
            for (const [key] of endpoints) results.set(`${key}/${setup.label}`, `skipped: no PostgreSQL at ${new URL(PG_URL).host}`);
            notes.push(`${setup.label}: skipped, PostgreSQL at ${new URL(PG_URL).host} did not answer (set GATEHOUSE_BENCH_PG_URL): ${String(err).slice(0, 200)}`);
            continue;
          }
          pgSettings = schema.settings;
          env['GH_BENCH_DATABASE_URL'] = schema.url;
        }
        // One after the other: the first migrates the schema, the second finds it done.
        for (let i = 0; i < setup.instances; i++) servers.push(await startServer(ROOT, `Gatehouse ${setup.label} #${i + 1}`, 'gatehouse-server.mjs', env));
        // Stateless registration: a client registered at one instance is valid at every
        // instance with the same registration key and host.
        const running: Running = { servers, client: await registerClient(servers[0]!.endpoints.register) };
        const sub = join(dir, setup.label.replace(/\W+/g, '-'));
        mkdirSync(sub);
        const measures: [EndpointKey, () => Promise<Combined>][] = [
          ['code', () => codeExchange(running, s, sub)],
          ['refresh', () => refreshGrant(running, s, sub)],
          ['introspect', () => introspection(running, s)],
        ];
        for (const [key, measure] of measures) {
          const c = await measure();
          results.set(`${key}/${setup.label}`, c);
          const label = endpoints.find(([k]) => k === key)![1];
          if (c.errors > 0) notes.push(`${label}, ${setup.label}: ${c.errors} errors; first: ${(c.sample ?? 'socket errors').replace(/\s+/g, ' ').slice(0, 160)}`);
          if (key !== 'introspect' && c.ok < s.codes) notes.push(`${label}, ${setup.label}: ${c.ok.toLocaleString('en-US')} of ${s.codes.toLocaleString('en-US')} spent within the ${s.measureS} s bound`);
        }
      } finally {
        await Promise.all(servers.map((x) => x.stop()));
        if (schema !== null) await schema.drop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const rows: string[][] = [];
  for (const [key, label] of endpoints) {
    const base = results.get(`${key}/${SETUPS[0]!.label}`);
    for (const setup of SETUPS) {
      const c = results.get(`${key}/${setup.label}`);
      if (c === undefined || typeof c === 'string') {
        rows.push([label, setup.label, c ?? 'not measured', '', '', '', '']);
        continue;
      }
      const ratio = typeof base === 'object' && base.rate > 0 ? `${(c.rate / base.rate).toFixed(2)}x` : 'n/a';
      rows.push([label, setup.label, fmt.rate(c.rate), latencyCell(c, 'p50Ms'), latencyCell(c, 'p99Ms'), c.errors.toLocaleString('en-US'), setup === SETUPS[0] ? '1.00x (baseline)' : ratio]);
    }
  }
  printTable(title, HEADER, rows);
  console.log('');
  const lines = [
    `wrk ${wrk}; each measurement at most ${s.measureS} s after a warm-up of at most ${s.warmupS} s; the code and refresh runs spend ${s.warmupCodes.toLocaleString('en-US')} warm-up codes or tokens, then up to ${s.codes.toLocaleString('en-US')}, timed from the first request to the last answer. Every response is checked: 200 with an access_token, 200 with "active":true; errors are unexpected answers plus socket errors.`,
    `Each setup starts empty (a new SQLite file, a new PostgreSQL schema) with the same server as the OAuth table (bench/oauth/gatehouse-server.mjs: rate limits off, fast auth script). Codes are minted through the authorize, login and consent pages of the first instance; refresh tokens by exchanging such codes; with 2 instances each wrk (1 thread, 16 connections) gets its own half of them.`,
    `2 instances: one wrk per instance, started together; code and refresh rates are every answer over the union of both runs' windows, introspection rates are the sum of both; p50 and p99 are shown per instance (first / second).`,
    `SQLite: one file, WAL, synchronous = FULL. ${pgSettings === null ? 'PostgreSQL: not reached.' : `${pgSettings}, on this machine; each instance's pool has 10 connections.`}`,
    `This machine has ${cpus().length} cores: two instances share them with wrk and PostgreSQL, so the 2-instance row measures what coordinating through one database costs, not horizontal gain; more instances pay off when each has cores of its own.`,
    ...notes,
    `Load average (1 min): ${load0.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after.`,
  ];
  for (const l of lines) console.log(`- ${l}`);
}
