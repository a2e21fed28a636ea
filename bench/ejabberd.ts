/**
 * Logins per second through a real ejabberd 23.01 (private instance on loopback, see
 * test/interop/EJABBERD_NOTES.md), with the same script and the same client load:
 *  (a) ejabberd's built-in extauth pool talking to the script directly (the baseline);
 *  (b) ejabberd talking to `gatehouse extauth --serve-protocol ejabberd`, which runs the script
 *      in its own pool.
 * Two scripts in the ejabberd protocol: one answering at once, one sleeping 50 ms per query.
 * The client is test/interop/plain_login.mjs (raw SASL PLAIN to <success/>) at a fixed
 * concurrency, bounded in count and time. Each row gets a fresh ejabberd.
 *
 * ejabberd's extauth worker is a gen_server that handles one query at a time, so ejabberd never
 * has more queries in flight than its extauth_pool_size; a bridge behind one worker sees one
 * query at a time, whatever its own pool size. The "ideal" column counts that.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEjabberd, type Ejabberd } from '../test/interop/ejabberd.js';
import { plainLoginRate, type RateResult } from '../test/interop/xmpp.js';
import { fmt, printTable } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Debian's python3, the one the ejabberd CI installs; the same interpreter for every row.
const PYTHON = process.env.GATEHOUSE_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const FAST = [PYTHON, join(ROOT, 'bench/scripts/fast_ejabberd.py')];
const SLOW = [PYTHON, join(ROOT, 'bench/scripts/sleep50_ejabberd.py')];
/** Logins in flight from the client, the same for every row. */
const CONCURRENCY = 32;

/** ejabberd runs `exec <extauth_program>` through /bin/sh: quote every word that needs it. */
function shellLine(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

interface Setup {
  label: string;
  script: string[];
  /** extauth_pool_size: script processes (direct) or bridges (through Gatehouse). */
  ejabberdPool: number;
  /** external_auth_processes of each bridge; null: no Gatehouse, ejabberd runs the script. */
  gatehouse: number | null;
}

interface Measured {
  setup: Setup;
  rate: RateResult;
}

async function withEjabberd<T>(s: Setup, dir: string, fn: (ej: Ejabberd) => Promise<T>): Promise<T> {
  let program = shellLine(s.script);
  if (s.gatehouse !== null) {
    const config = join(dir, `gatehouse-${s.ejabberdPool}x${s.gatehouse}.toml`);
    writeFileSync(
      config,
      [
        `external_auth_command = ${JSON.stringify(s.script)}`,
        'external_auth_protocol = "ejabberd"',
        `external_auth_processes = ${s.gatehouse}`,
        'log_level = "warn"',
        '',
      ].join('\n'),
    );
    program = shellLine([process.execPath, join(ROOT, 'bin/gatehouse.js'), 'extauth', '--serve-protocol', 'ejabberd', '--config', config]);
  }
  const ej = await startEjabberd({ extauthProgram: program, poolSize: s.ejabberdPool, loglevel: 'warning' });
  try {
    return await fn(ej);
  } finally {
    await ej.stop();
  }
}

async function measure(s: Setup, dir: string, limits: { warmup: number; count: number; seconds: number }): Promise<Measured> {
  return withEjabberd(s, dir, async (ej) => {
    const load = { port: ej.port, jid: `alice@${ej.host}`, password: 'secret', concurrency: CONCURRENCY };
    // Warm-up: every worker and script process started and answering.
    await plainLoginRate({ ...load, count: limits.warmup, maxSeconds: 5 });
    // A wrong password must fail, or the row would measure a server that lets everybody in.
    // (count 2: a single login prints OK/FAIL instead of the COUNT line).
    const wrong = await plainLoginRate({ ...load, password: 'wrong', count: 2, concurrency: 1, maxSeconds: 5 });
    if (wrong.ok !== 0 || wrong.fail !== 2) throw new Error(`${s.label}: wrong password: ${wrong.line}\n${ej.logTail(20)}`);
    const rate = await plainLoginRate({ ...load, count: limits.count, maxSeconds: limits.seconds });
    if (!(rate.ok > 0)) throw new Error(`${s.label}: no successful login (${rate.line})\n${ej.logTail(20)}`);
    return { setup: s, rate };
  });
}

function direct(script: string[], pool: number): Setup {
  return { label: `ejabberd extauth -> script`, script, ejabberdPool: pool, gatehouse: null };
}
function bridged(script: string[], pool: number, processes: number): Setup {
  return { label: `ejabberd -> gatehouse extauth -> script`, script, ejabberdPool: pool, gatehouse: processes };
}

/** Queries ejabberd can have in flight: one per extauth worker, whatever is behind it. */
const inFlight = (s: Setup): number => s.ejabberdPool;
const processes = (s: Setup): number => s.ejabberdPool * (s.gatehouse ?? 1);
const okFail = (r: RateResult): string => `${r.ok} / ${r.fail}${r.cut > 0 ? ` (+${r.cut} cut)` : ''}`;

async function fastScript(quick: boolean, dir: string): Promise<void> {
  const limits = { warmup: 100, count: 20_000, seconds: quick ? 1.5 : 5 };
  // Quick mode is a smoke check: fewer rows (each costs an ejabberd start and stop), short runs.
  const setups = quick
    ? [direct(FAST, 1), bridged(FAST, 1, 4)]
    : [direct(FAST, 1), bridged(FAST, 1, 4), direct(FAST, 4), bridged(FAST, 4, 4)];
  const results: Measured[] = [];
  for (const s of setups) results.push(await measure(s, dir, limits));
  const baseline = (pool: number): number => results.find((m) => m.setup.gatehouse === null && m.setup.ejabberdPool === pool)!.rate.perSecond;
  printTable(
    `ejabberd SASL PLAIN logins, fast script (ejabberd protocol), ${CONCURRENCY} clients, ${limits.seconds} s per row (load avg ${loadavg()[0]!.toFixed(1)})`,
    ['path', 'ejabberd pool', 'Gatehouse processes', 'logins/s', 'vs direct, same ejabberd pool', 'ok / fail'],
    results.map((m) => [
      m.setup.gatehouse === null ? `${m.setup.label} (baseline)` : m.setup.label,
      m.setup.ejabberdPool,
      m.setup.gatehouse === null ? '' : `${m.setup.gatehouse} per bridge`,
      fmt.rate(m.rate.perSecond),
      m.setup.gatehouse === null ? '' : fmt.pct(m.rate.perSecond / baseline(m.setup.ejabberdPool)),
      okFail(m.rate),
    ]),
  );
}

async function slowScript(quick: boolean, dir: string): Promise<void> {
  const seconds = quick ? 2 : 6;
  const setups = quick
    ? [direct(SLOW, 4), bridged(SLOW, 4, 4)]
    : [direct(SLOW, 1), bridged(SLOW, 1, 4), direct(SLOW, 4), bridged(SLOW, 4, 4), direct(SLOW, 16), bridged(SLOW, 16, 1)];
  const results: Measured[] = [];
  for (const s of setups) {
    results.push(await measure(s, dir, { warmup: 2 * inFlight(s), count: 5000, seconds }));
  }
  printTable(
    `ejabberd SASL PLAIN logins, script sleeping 50 ms per query, ${CONCURRENCY} clients, ${seconds} s per row (load avg ${loadavg()[0]!.toFixed(1)})`,
    ['path', 'ejabberd pool', 'Gatehouse processes', 'script processes', 'ideal (in flight / 0.05 s)', 'logins/s', 'of ideal', 'ok / fail'],
    results.map((m) => {
      const ideal = inFlight(m.setup) / 0.05;
      return [
        m.setup.gatehouse === null ? `${m.setup.label} (baseline)` : m.setup.label,
        m.setup.ejabberdPool,
        m.setup.gatehouse === null ? '' : `${m.setup.gatehouse} per bridge`,
        processes(m.setup),
        fmt.rate(ideal),
        fmt.rate(m.rate.perSecond),
        fmt.pct(m.rate.perSecond / ideal),
        okFail(m.rate),
      ];
    }),
  );
}

/**
 * ejabberd logins/s, direct extauth vs through `gatehouse extauth`, each table with its
 * baseline from this run. About 2 minutes (quick: well under one). Needs the Debian ejabberd
 * package; it runs private instances on loopback only and stops each one.
 */
export async function runEjabberdBench(quick: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-ejabberd-'));
  try {
    await fastScript(quick, dir);
    await slowScript(quick, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
