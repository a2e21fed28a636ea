/**
 * The OAuth benchmark: Gatehouse against oidc-provider@8 (the reference Node server, a dev
 * dependency), measured side by side in one run, same machine, same load tool (wrk, 2 threads,
 * 32 connections), each server in its own process on 127.0.0.1:
 *  1. registration (RFC 7591): the same metadata POSTed again and again, each answer a new
 *     client (target: 5x the reference: Gatehouse writes nothing);
 *  2. authorization-code exchange: codes minted before the run, one per request, each used
 *     once (target: 1.5x);
 *  3. introspection (RFC 7662) of one live access token, client_secret_basic (target: 1.5x).
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
import { fmt, printTable } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HEADER = ['endpoint', 'oidc-provider@8 (baseline)', 'Gatehouse', 'ratio', 'target'];

interface Side {
  server: ServerProcess;
  client: Client;
}

interface Settings {
  warmupS: number;
  measureS: number;
  codes: number;
  warmupCodes: number;
}

/** One side's run: warm-up, then the measurement. */
type Measure = (side: Side) => Promise<WrkResult>;

function errorsOf(r: WrkResult): number {
  return r.bad + r.socketErrors;
}

function cell(r: WrkResult): string {
  const n = errorsOf(r);
  return n === 0 ? fmt.rate(r.rate) : `${fmt.rate(r.rate)} (${n.toLocaleString('en-US')} errors)`;
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
  return async ({ server, client }) => {
    const total = s.warmupCodes + s.codes;
    const pairs = server.endpoints.authorize !== undefined ? await gatehouseCodes(server.endpoints.authorize, client, total, 8) : await server.mint(client.clientId, total, REDIRECT_URI);
    const bodies = pairs.map(([code, verifier]) => exchangeBody(code!, verifier!));
    const file = (name: string, lines: string[]): string => {
      const f = join(dir, `${server.name.replace(/\W+/g, '-')}-${name}.txt`);
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

/**
 * Print the OAuth table: registrations, authorization-code exchanges and introspections per
 * second, oidc-provider@8 (measured in the same run) against Gatehouse. `quick` shortens every
 * run (a smoke check, not numbers). About 50 s in full, 20 s quick.
 */
export async function runOAuthBench(quick: boolean): Promise<void> {
  const s: Settings = quick ? { warmupS: 1, measureS: 2, codes: 600, warmupCodes: 150 } : { warmupS: 1, measureS: 5, codes: 2000, warmupCodes: 400 };
  const refVersion = pkgVersion('oidc-provider');
  const title = `OAuth endpoints, wrk ${WRK_THREADS} threads / ${WRK_CONNECTIONS} connections, oidc-provider@${refVersion} measured in the same run (targets: registration >= 5x, the others >= 1.5x)`;
  const wrk = wrkVersion();
  if (wrk === null) {
    printTable(title, HEADER, [['(skipped: wrk is not installed)', '', '', '', '']]);
    return;
  }
  const load0 = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-oauth-codes-'));
  const servers: ServerProcess[] = [];
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  try {
    servers.push(await startServer(ROOT, 'oidc-provider', 'oidc-provider-server.mjs'));
    servers.push(await startServer(ROOT, 'Gatehouse', 'gatehouse-server.mjs'));
    const sides: Side[] = [];
    for (const server of servers) sides.push({ server, client: await registerClient(server.endpoints.register) });
    const [ref, gh] = sides as [Side, Side];

    const cases: [string, number, Measure][] = [
      ['registration (POST /register, a new client each)', 5, registration(s)],
      [`authorization-code exchange (${s.codes.toLocaleString('en-US')} codes, each used once)`, 1.5, codeExchange(s, dir)],
      ['introspection (one active access token)', 1.5, introspection(s)],
    ];
    for (const [label, target, measure] of cases) {
      // Baseline first, then Gatehouse, one after the other: never both under load at once.
      const r = await measure(ref);
      const g = await measure(gh);
      const ratio = r.rate > 0 ? g.rate / r.rate : NaN;
      const verdict = errorsOf(g) > 0 ? 'ERRORS' : ratio >= target ? 'met' : 'MISSED';
      rows.push([label, cell(r), cell(g), Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : 'n/a', `>= ${target}x: ${verdict}`]);
      for (const [name, x] of [['oidc-provider', r], ['Gatehouse', g]] as const) {
        if (errorsOf(x) > 0) {
          notes.push(`${label}, ${name}: ${x.bad} unexpected responses, ${x.socketErrors} socket errors${x.sample !== null ? `; first: ${x.sample.replace(/\s+/g, ' ').slice(0, 160)}` : ''}`);
        }
      }
      if (label.startsWith('authorization-code')) {
        notes.push(`code exchange windows (first request to last answer): oidc-provider ${r.ok.toLocaleString('en-US')} in ${r.seconds.toFixed(2)} s, Gatehouse ${g.ok.toLocaleString('en-US')} in ${g.seconds.toFixed(2)} s`);
      }
    }
    // The ceiling for registration on this machine: the framework alone, same load.
    const bare = await startServer(ROOT, 'bare fastify', 'bare-fastify-server.mjs');
    servers.push(bare);
    // Registration reads only the server of its side: the framework needs no client.
    const b = await registration(s)({ server: bare, client: { clientId: '', secret: '', basic: '' } });
    const reg = rows[0]!;
    notes.push(`registration ceiling: fastify alone, one route parsing the JSON and answering a fixed 201, ${cell(b)} under the same load (registration target 5x = ${Math.round(5 * Number(String(reg[1]).replace(/[^0-9]/g, ''))).toLocaleString('en-US')}/s)`);
  } finally {
    await Promise.all(servers.map((x) => x.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(title, HEADER, rows);
  console.log('');
  const lines = [
    `wrk ${wrk}; each measurement ${s.measureS} s after a ${s.warmupS} s warm-up; the code exchange spends ${s.warmupCodes.toLocaleString('en-US')} warm-up codes, then ${s.codes.toLocaleString('en-US')} codes (at most ${s.measureS} s), timed from the first request to the last answer. Every response is checked: status and body (201 with a client_secret, 200 with an access_token, 200 with "active":true).`,
    `oidc-provider: in-memory adapter (its store a Map instead of a 1,000-entry LRU, so minted codes are not evicted), open registration, client_secret_basic, PKCE S256 required, opaque access tokens for one resource (scope xmpp), no id_token; its codes minted through its Grant and AuthorizationCode models.`,
    `Gatehouse: SQLite in a file (WAL), where oidc-provider keeps everything in memory; registration and token rate limits off (oauth2_registration_rate_limit = 0, oauth2_token_rate_limit = 0); its codes from the authorize, login and consent pages. Scope "xmpp offline_access" on both (no openid, so no signed id_token); both answer a code exchange with an access and a refresh token.`,
    ...notes,
    `Load average (1 min): ${load0.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after, ${cpus().length} cores.`,
  ];
  for (const l of lines) console.log(`- ${l}`);
}
