/**
 * The OAuth benchmark: Gatehouse against oidc-provider@8 (the reference Node server, a dev
 * dependency), measured side by side in one run, same machine, same load tool (wrk, 2 threads,
 * 32 connections), each server in its own process on 127.0.0.1. The reference runs on three
 * stores: its bundled in-memory adapter (development only: a restart loses every client, code
 * and token), a durable SQLite adapter with Gatehouse's settings (WAL, fsync on every commit),
 * and a PostgreSQL adapter with a connection pool; Gatehouse runs on SQLite and on PostgreSQL,
 * and each reference is compared with Gatehouse on the same kind of store (Gatehouse on SQLite
 * against the in-memory one). Without a reachable PostgreSQL its rows are skipped.
 *  1. registration (RFC 7591): the same metadata POSTed again and again, each answer a new
 *     client (target: 5x the reference: Gatehouse writes nothing);
 *  2. authorization-code exchange: codes minted before the run, one per request, each used
 *     once (target: 1.5x);
 *  3. introspection (RFC 7662) of one live access token, client_secret_basic (target: 1.5x).
 * Each measurement is taken in several short rounds, the order of the servers rotating from
 * round to round (the VM's speed drifts within seconds), and the median round is reported.
 * Every response is checked (status and body) by the Lua scripts in bench/wrk/; unexpected
 * answers and socket errors show in the table. Comparable settings are listed in the notes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLIENT_METADATA, exchange, exchangeBody, gatehouseCodes, REDIRECT_URI, registerClient, type Client } from './oauth/flow.js';
import { startServer, type ServerProcess } from './oauth/servers.js';
import { runWrk, WRK_CONNECTIONS, WRK_THREADS, wrkVersion, type WrkResult } from './oauth/wrk.js';
import { createSchema, PG_URL, type BenchSchema } from './lib/pg-schema.js';
import { fmt, printTable } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HEADER = ['endpoint', 'store', 'oidc-provider@8', 'Gatehouse', 'ratio', 'target'];

/** One comparison row: the reference on a store against Gatehouse on the matching store. */
interface Pairing {
  /** The stores, as the table names them. */
  store: string;
  ref: string;
  gatehouse: string;
}

interface Side {
  server: ServerProcess;
  client: Client;
}

interface Settings {
  rounds: number;
  warmupS: number;
  measureS: number;
  codes: number;
  warmupCodes: number;
}

/** One side's run: warm-up, then the measurement. */
type Measure = (side: Side, round: number) => Promise<WrkResult>;

/** The rounds of one side: the median rate, and every error of every round. */
interface Rounds {
  rate: number;
  all: WrkResult[];
}

function errorsOf(r: WrkResult): number {
  return r.bad + r.socketErrors;
}

function summarize(all: WrkResult[]): Rounds {
  const rates = all.map((r) => r.rate).sort((a, b) => a - b);
  const mid = rates.length >> 1;
  const rate = rates.length % 2 === 1 ? rates[mid]! : (rates[mid - 1]! + rates[mid]!) / 2;
  return { rate, all };
}

function errorCount(r: Rounds): number {
  return r.all.reduce((n, x) => n + errorsOf(x), 0);
}

function cell(r: Rounds): string {
  const n = errorCount(r);
  return n === 0 ? fmt.rate(r.rate) : `${fmt.rate(r.rate)} (${n.toLocaleString('en-US')} errors)`;
}

function ratioCell(gh: Rounds, ref: Rounds, target: number): string {
  if (!(ref.rate > 0)) return 'n/a';
  const ratio = gh.rate / ref.rate;
  return `${ratio.toFixed(2)}x ${errorCount(gh) > 0 ? 'ERRORS' : ratio >= target ? 'met' : 'MISSED'}`;
}

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

async function postRun(url: string, seconds: number, env: Record<string, string>): Promise<WrkResult> {
  return runWrk(ROOT, { script: 'post.lua', url, seconds, env });
}

/** Registration: the same JSON each time; each 201 carries a new client_id and secret. */
function registration(s: Settings): Measure {
  const env = { GH_BODY: JSON.stringify(CLIENT_METADATA), GH_CONTENT_TYPE: 'application/json', GH_EXPECT_STATUS: '201', GH_EXPECT_BODY: '"client_secret"' };
  return async ({ server }) => {
    await postRun(server.endpoints.register, s.warmupS, env);
    return postRun(server.endpoints.register, s.measureS, env);
  };
}

/** Code exchange: mint warm-up and measured codes, then spend each once (codes.lua). */
function codeExchange(s: Settings, dir: string): Measure {
  return async ({ server, client }, round) => {
    const total = s.warmupCodes + s.codes;
    const pairs = server.endpoints.authorize !== undefined ? await gatehouseCodes(server.endpoints.authorize, client, total, 8) : await server.mint(client.clientId, total, REDIRECT_URI);
    const bodies = pairs.map(([code, verifier]) => exchangeBody(code!, verifier!));
    const file = (name: string, lines: string[]): string => {
      const f = join(dir, `${server.name.replace(/\W+/g, '-')}-${round}-${name}.txt`);
      writeFileSync(f, `${lines.join('\n')}\n`);
      return f;
    };
    const env = (f: string) => ({ GH_CODES: f, GH_AUTH: client.basic, GH_EXPECT_STATUS: '200', GH_EXPECT_BODY: '"access_token"' });
    const warm = file('warmup', bodies.slice(0, s.warmupCodes));
    const measured = file('codes', bodies.slice(s.warmupCodes));
    await runWrk(ROOT, { script: 'codes.lua', url: server.endpoints.token, seconds: s.warmupS, env: env(warm), untilExhausted: true });
    return runWrk(ROOT, { script: 'codes.lua', url: server.endpoints.token, seconds: s.measureS, env: env(measured), untilExhausted: true });
  };
}

/** Introspection of one access token, issued by a code exchange just before. */
function introspection(s: Settings): Measure {
  return async ({ server, client }) => {
    const [pair] = server.endpoints.authorize !== undefined ? await gatehouseCodes(server.endpoints.authorize, client, 1, 1) : await server.mint(client.clientId, 1, REDIRECT_URI);
    const token = await exchange(server.endpoints.token, client, pair![0]!, pair![1]!);
    const env = {
      GH_BODY: new URLSearchParams({ token }).toString(),
      GH_CONTENT_TYPE: 'application/x-www-form-urlencoded',
      GH_AUTH: client.basic,
      GH_EXPECT_STATUS: '200',
      GH_EXPECT_BODY: '"active":true',
    };
    await postRun(server.endpoints.introspect, s.warmupS, env);
    return postRun(server.endpoints.introspect, s.measureS, env);
  };
}

/** `rounds` rounds of `measure` on every side, the order rotating: one Rounds per side. */
async function inRounds(sides: readonly Side[], rounds: number, measure: Measure): Promise<Rounds[]> {
  const all: WrkResult[][] = sides.map(() => []);
  for (let round = 0; round < rounds; round++) {
    // One server under load at a time, never two at once.
    for (let k = 0; k < sides.length; k++) {
      const i = (k + round) % sides.length;
      all[i]!.push(await measure(sides[i]!, round));
    }
  }
  return all.map(summarize);
}

/**
 * Print the OAuth table: registrations, authorization-code exchanges and introspections per
 * second, oidc-provider@8 in memory, on SQLite and on PostgreSQL (measured in the same run)
 * against Gatehouse on the matching store. `quick` shortens every run (a smoke check, not
 * numbers). About 5 minutes in full, 1 minute quick.
 */
export async function runOAuthBench(quick: boolean): Promise<void> {
  const s: Settings = quick
    ? { rounds: 1, warmupS: 1, measureS: 2, codes: 600, warmupCodes: 150 }
    : { rounds: 3, warmupS: 2, measureS: 3, codes: 2000, warmupCodes: 400 };
  const refVersion = pkgVersion('oidc-provider');
  const title = `OAuth endpoints, wrk ${WRK_THREADS} threads / ${WRK_CONNECTIONS} connections, oidc-provider@${refVersion} measured in the same run (targets: registration >= 5x, the others >= 1.5x); median of ${s.rounds} round${s.rounds === 1 ? '' : 's'}`;
  const wrk = wrkVersion();
  if (wrk === null) {
    printTable(title, HEADER, [['(skipped: wrk is not installed)', '', '', '', '', '']]);
    return;
  }
  const load0 = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-oauth-codes-'));
  const servers: ServerProcess[] = [];
  const schemas: BenchSchema[] = [];
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  try {
    const start = async (name: string, entry: string, env: Record<string, string> = {}): Promise<void> => {
      servers.push(await startServer(ROOT, name, entry, env));
    };
    await start('oidc-provider, in memory', 'oidc-provider-server.mjs');
    await start('oidc-provider, SQLite', 'oidc-provider-server.mjs', { GH_BENCH_OIDC_STORE: 'sqlite' });
    await start('Gatehouse, SQLite', 'gatehouse-server.mjs');
    const pairings: Pairing[] = [
      { store: 'reference in memory, Gatehouse on SQLite', ref: 'oidc-provider, in memory', gatehouse: 'Gatehouse, SQLite' },
      { store: 'SQLite (fsync per commit)', ref: 'oidc-provider, SQLite', gatehouse: 'Gatehouse, SQLite' },
    ];
    try {
      const forRef = await createSchema();
      schemas.push(forRef);
      const forGatehouse = await createSchema();
      schemas.push(forGatehouse);
      await start('oidc-provider, PostgreSQL', 'oidc-provider-server.mjs', { GH_BENCH_OIDC_STORE: 'postgres', GH_BENCH_OIDC_DATABASE_URL: forRef.url });
      await start('Gatehouse, PostgreSQL', 'gatehouse-server.mjs', { GH_BENCH_DATABASE_URL: forGatehouse.url });
      pairings.push({ store: 'PostgreSQL', ref: 'oidc-provider, PostgreSQL', gatehouse: 'Gatehouse, PostgreSQL' });
      notes.push(`PostgreSQL: ${forRef.settings}, a schema of its own for each server, on the same 2 cores.`);
    } catch (err) {
      notes.push(`PostgreSQL rows skipped: no PostgreSQL at ${new URL(PG_URL).host} (set GATEHOUSE_BENCH_PG_URL): ${String(err).slice(0, 200)}`);
    }
    const sides: Side[] = [];
    for (const server of servers) sides.push({ server, client: await registerClient(server.endpoints.register) });
    const byName = (name: string): number => servers.findIndex((x) => x.name === name);

    const cases: [string, number, Measure][] = [
      ['registration (a new client each)', 5, registration(s)],
      [`authorization-code exchange (${s.codes.toLocaleString('en-US')} codes, each once)`, 1.5, codeExchange(s, dir)],
      ['introspection (one active access token)', 1.5, introspection(s)],
    ];
    for (const [label, target, measure] of cases) {
      const results = await inRounds(sides, s.rounds, measure);
      for (const p of pairings) {
        const ref = results[byName(p.ref)]!;
        const gh = results[byName(p.gatehouse)]!;
        rows.push([label, p.store, cell(ref), cell(gh), ratioCell(gh, ref, target), `>= ${target}x`]);
      }
      servers.forEach((server, i) => {
        const bad = results[i]!.all.filter((r) => errorsOf(r) > 0);
        if (bad.length > 0) {
          const sample = bad.find((r) => r.sample !== null)?.sample ?? null;
          notes.push(`${label}, ${server.name}: ${bad.reduce((n, r) => n + r.bad, 0)} unexpected responses, ${bad.reduce((n, r) => n + r.socketErrors, 0)} socket errors${sample !== null ? `; first: ${sample.replace(/\s+/g, ' ').slice(0, 160)}` : ''}`);
        }
      });
      const rates = servers.map((server, i) => `${server.name} ${results[i]!.all.map((r) => fmt.rate(r.rate)).join(', ')}`).join('; ');
      notes.push(`${label}, every round: ${rates}`);
    }
    // The ceiling for registration on this machine: the framework alone, same load.
    const bare = await startServer(ROOT, 'bare fastify', 'bare-fastify-server.mjs');
    servers.push(bare);
    // Registration reads only the server of its side: the framework needs no client.
    const [b] = (await inRounds([{ server: bare, client: { clientId: '', secret: '', basic: '' } }], s.rounds, registration(s))) as [Rounds];
    notes.push(`registration ceiling: fastify alone, one route parsing the JSON and answering a fixed 201, ${cell(b)} under the same load`);
  } finally {
    await Promise.all(servers.map((x) => x.stop()));
    for (const schema of schemas) await schema.drop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(title, HEADER, rows);
  console.log('');
  const lines = [
    `wrk ${wrk}; each round ${s.measureS} s after a ${s.warmupS} s warm-up; the code exchange spends ${s.warmupCodes.toLocaleString('en-US')} warm-up codes, then ${s.codes.toLocaleString('en-US')} codes (at most ${s.measureS} s), timed from the first request to the last answer. Every response is checked: status and body (201 with a client_secret, 200 with an access_token, 200 with "active":true).`,
    `oidc-provider: open registration, client_secret_basic, PKCE S256 required, opaque access tokens for one resource (scope xmpp), no id_token; its codes minted through its Grant and AuthorizationCode models. In memory: its bundled adapter (development only: nothing survives a restart), its store a Map instead of a 1,000-entry LRU so minted codes are not evicted. SQLite: bench/oauth/oidc-provider-sqlite-adapter.mjs, one statement per adapter call, a file in WAL mode with synchronous = FULL, like Gatehouse. PostgreSQL: bench/oauth/oidc-provider-postgres-adapter.mjs, a pool of 10 connections, one statement per adapter call (PostgreSQL commits concurrent transactions together).`,
    `Gatehouse: SQLite in a file (WAL, synchronous = FULL, writes on its writer thread), or PostgreSQL; registration and token rate limits off (oauth2_registration_rate_limit = 0, oauth2_token_rate_limit = 0); its codes from the authorize, login and consent pages. Scope "xmpp offline_access" on every server (no openid, so no signed id_token); each answers a code exchange with an access and a refresh token.`,
    ...notes,
    `Load average (1 min): ${load0.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after, ${cpus().length} cores.`,
  ];
  for (const l of lines) console.log(`- ${l}`);
}
