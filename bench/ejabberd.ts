/**
 * Logins per second through a real ejabberd 23.01 (private instance on loopback, see
 * test/interop/EJABBERD_NOTES.md), with the same script and the same client load:
 *  (a) ejabberd's built-in extauth pool talking to the script directly (the baseline);
 *  (b) ejabberd talking to `gatehouse extauth --serve-protocol ejabberd` per worker, each
 *      running the script in its own pool of one;
 *  (c) each worker running `gatehouse-extauth-connect` (the C program, dist/connector/) to one
 *      `gatehouse serve`'s extauth socket, serve running the script in one pool as large as
 *      ejabberd's: the connector hands its pipes to serve, which answers ejabberd on them;
 *  (d) the same connector with --relay: it relays every query and answer itself;
 *  (e) the Perl connector (bin/), for those without a C compiler, which relays;
 *  (f) the floor of any process in the path: a bare C relay per worker (bench/floor/relay.c)
 *      that runs the script and copies frames both ways with nothing else, no policy, no event
 *      loop: what the extra hop alone costs.
 * Each row also gives the memory of everything on the auth side at the end of its load: the
 * programs ejabberd runs and everything under them, plus `gatehouse serve` and its scripts.
 * RSS counts shared pages (the interpreter's code) once per process; PSS splits them between
 * the processes that share them, so its sum is what the machine really spends.
 * Two scripts in the ejabberd protocol: one answering at once, one sleeping 50 ms per query.
 * The client is test/interop/plain_login.mjs (raw SASL PLAIN to <success/>) at a fixed
 * concurrency, bounded in count and time. Each row gets a fresh ejabberd.
 *
 * ejabberd's extauth worker is a gen_server that handles one query at a time, so ejabberd never
 * has more queries in flight than its extauth_pool_size; a bridge behind one worker sees one
 * query at a time, whatever its own pool size. The "ideal" column counts that.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEjabberd, type Ejabberd } from '../test/interop/ejabberd.js';
import { plainLoginRate, type RateResult } from '../test/interop/xmpp.js';
import { ancestorNamed, cpuMs, cpuOf } from './lib/cpu.js';
import { memoryOf, tree, type Memory } from './lib/memory.js';
import { gatehouseArgv } from './lib/node-flags.js';
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

type Via = 'direct' | 'bridge' | 'socket' | 'socket-relay' | 'socket-perl' | 'floor';
const C_CONNECTOR = join(ROOT, 'dist/connector/gatehouse-extauth-connect');
const CONNECTORS = {
  socket: [C_CONNECTOR],
  'socket-relay': [C_CONNECTOR, '--relay'],
  'socket-perl': [join(ROOT, 'bin/gatehouse-extauth-connect')],
};
const viaSocket = (s: Setup): boolean => s.via === 'socket' || s.via === 'socket-relay' || s.via === 'socket-perl';

interface Setup {
  label: string;
  script: string[];
  /** extauth_pool_size: script processes (direct), bridges, or connectors to serve. */
  ejabberdPool: number;
  via: Via;
  /** external_auth_processes of each bridge, or of serve; null: ejabberd runs the script. */
  gatehouse: number | null;
  /** serve's external_auth_cache_ttl, seconds (socket rows; 0: off). */
  cacheTtl?: number;
  /** Options of ejabberd's Erlang VM (ERL_OPTIONS), beyond the package's defaults. */
  erlOptions?: string;
}

interface Measured {
  setup: Setup;
  rate: RateResult;
  memory: Memory;
  /** CPU per successful login during the load, µs: ejabberd's VM, and the auth side (its port programs, serve and serve's scripts). */
  cpu: { ejabberd: number; auth: number };
}

/** How often a process has slept and been woken (/proc/PID/status); 0 once it is gone. */
function wakeups(pid: number): number {
  try {
    return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** `gatehouse serve` with the extauth socket, ready; stopped by the returned function. */
async function startServe(s: Setup, dir: string, socket: string): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const config = join(dir, `serve-${s.ejabberdPool}x${s.gatehouse}.toml`);
  writeFileSync(
    config,
    [
      `external_auth_command = ${JSON.stringify(s.script)}`,
      'external_auth_protocol = "ejabberd"',
      `external_auth_processes = ${s.gatehouse}`,
      `extauth_socket = ${JSON.stringify(socket)}`,
      'http_ports = [0]',
      `external_auth_cache_ttl = ${s.cacheTtl ?? 0}`,
      'log_level = "warn"',
      '',
    ].join('\n'),
  );
  const [node, ...argv] = gatehouseArgv('serve', '--config', config);
  const child = spawn(node!, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const end = Date.now() + 15_000;
  while (!existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`gatehouse serve did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    child,
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** bench/floor/relay.c, compiled once per run into the run's directory. */
function floorRelay(dir: string): string {
  const out = join(dir, 'floor-relay');
  if (!existsSync(out)) {
    const cc = spawnSync(process.env.CC ?? 'cc', ['-O2', '-o', out, join(ROOT, 'bench/floor/relay.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`bench/floor/relay.c did not compile: ${cc.error?.message ?? cc.stderr}`);
  }
  return out;
}

async function withEjabberd<T>(s: Setup, dir: string, fn: (ej: Ejabberd, serve: ChildProcess | null) => Promise<T>): Promise<T> {
  let program = shellLine(s.script);
  let serve: Awaited<ReturnType<typeof startServe>> | null = null;
  if (s.via === 'socket' || s.via === 'socket-relay' || s.via === 'socket-perl') {
    const socket = join(dir, `extauth-${s.ejabberdPool}.sock`);
    serve = await startServe(s, dir, socket);
    const [connector, ...options] = CONNECTORS[s.via];
    if (!existsSync(connector!)) throw new Error(`${connector} is missing: \`npm run build\` compiles it (needs cc)`);
    program = shellLine([connector!, socket, ...options]);
  } else if (s.via === 'floor') {
    program = shellLine([floorRelay(dir), ...s.script]);
  } else if (s.via === 'bridge') {
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
    program = shellLine(gatehouseArgv('extauth', '--serve-protocol', 'ejabberd', '--config', config));
  }
  let ej: Ejabberd;
  try {
    ej = await startEjabberd({ extauthProgram: program, poolSize: s.ejabberdPool, loglevel: 'warning', erlOptions: s.erlOptions });
  } catch (err) {
    await serve?.stop();
    throw err;
  }
  try {
    return await fn(ej, serve?.child ?? null);
  } finally {
    await ej.stop();
    await serve?.stop();
  }
}

async function measure(s: Setup, dir: string, limits: { warmup: number; count: number; seconds: number }): Promise<Measured> {
  return withEjabberd(s, dir, async (ej, serve) => {
    const load = { port: ej.port, jid: `alice@${ej.host}`, password: 'secret', concurrency: CONCURRENCY };
    // Warm-up: every worker and script process started and answering.
    await plainLoginRate({ ...load, count: limits.warmup, maxSeconds: 5 });
    // A wrong password must fail, or the row would measure a server that lets everybody in.
    // (count 2: a single login prints OK/FAIL instead of the COUNT line).
    const wrong = await plainLoginRate({ ...load, password: 'wrong', count: 2, concurrency: 1, maxSeconds: 5 });
    if (wrong.ok !== 0 || wrong.fail !== 2) throw new Error(`${s.label}: wrong password: ${wrong.line}\n${ej.logTail(20)}`);
    const woken = (): number => ej.childPids().reduce((n, pid) => n + wakeups(pid), 0);
    const authPids = [...new Set([...ej.childPids().flatMap((p) => tree(p)), ...(serve?.pid === undefined ? [] : tree(serve.pid))])];
    const beam = ej.childPids().map((p) => ancestorNamed(p, 'beam')).find((p) => p !== null) ?? null;
    const before = woken();
    const cpuBefore = { ejabberd: beam === null ? 0 : cpuMs(beam), auth: cpuOf(authPids) };
    const rate = await plainLoginRate({ ...load, count: limits.count, maxSeconds: limits.seconds });
    const perLogin = (ms: number): number => (ms * 1000) / Math.max(1, rate.ok);
    const cpu = { ejabberd: beam === null ? NaN : perLogin(cpuMs(beam) - cpuBefore.ejabberd), auth: perLogin(cpuOf(authPids) - cpuBefore.auth) };
    if (!(rate.ok > 0)) throw new Error(`${s.label}: no successful login (${rate.line})\n${ej.logTail(20)}`);
    // With the handoff, serve answers on the workers' pipes: the connectors sleep through the load.
    if (s.via === 'socket' && woken() - before > rate.ok / 10) throw new Error(`${s.label}: the connectors were woken ${woken() - before} times for ${rate.ok} logins: serve did not take their pipes`);
    const pids = [...new Set([...ej.childPids().flatMap((p) => tree(p)), ...(serve?.pid === undefined ? [] : tree(serve.pid))])];
    return { setup: s, rate, memory: memoryOf(pids), cpu };
  });
}

function direct(script: string[], pool: number): Setup {
  return { label: `ejabberd extauth -> script`, script, ejabberdPool: pool, via: 'direct', gatehouse: null };
}
function bridged(script: string[], pool: number, processes: number): Setup {
  return { label: `ejabberd -> gatehouse extauth (per worker) -> script`, script, ejabberdPool: pool, via: 'bridge', gatehouse: processes };
}
function socketed(script: string[], pool: number, processes: number): Setup {
  return { label: `ejabberd -> gatehouse serve on the worker's pipes (C connector's handoff) -> script`, script, ejabberdPool: pool, via: 'socket', gatehouse: processes };
}
function socketedRelay(script: string[], pool: number, processes: number): Setup {
  return { label: `ejabberd -> gatehouse-extauth-connect (C, --relay) -> gatehouse serve -> script`, script, ejabberdPool: pool, via: 'socket-relay', gatehouse: processes };
}
function socketedPerl(script: string[], pool: number, processes: number): Setup {
  return { label: `ejabberd -> gatehouse-extauth-connect (Perl) -> gatehouse serve -> script`, script, ejabberdPool: pool, via: 'socket-perl', gatehouse: processes };
}
/** serve's socket with its cache of positive answers: repeated logins do not reach the script. */
function socketedCached(script: string[], pool: number, processes: number): Setup {
  return { ...socketed(script, pool, processes), label: `ejabberd -> gatehouse serve on the worker's pipes (C connector's handoff), external_auth_cache_ttl = 60`, cacheTtl: 60 };
}
/** The floor: a bare C relay per worker, the cheapest process that can stand in the path. */
function floored(script: string[], pool: number): Setup {
  return { label: `ejabberd -> bare C relay (per worker, no policy: the floor of any process in the path) -> script`, script, ejabberdPool: pool, via: 'floor', gatehouse: null };
}
/** Every path at one ejabberd pool size, serve's pool as large as ejabberd's. */
const paths = (script: string[], p: number): Setup[] => [direct(script, p), bridged(script, p, 1), socketed(script, p, p), socketedRelay(script, p, p), socketedPerl(script, p, p)];
const mb = (kb: number): string => (kb / 1024).toFixed(0);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
const memCells = (m: Measured, base: Measured | undefined): (string | number)[] => [
  m.memory.processes,
  mb(m.memory.rssKb),
  mb(m.memory.pssKb),
  base === undefined || m === base ? '' : `${ratio(m.memory.rssKb, base.memory.rssKb)} / ${ratio(m.memory.pssKb, base.memory.pssKb)}`,
];

/** Queries ejabberd can have in flight: one per extauth worker, whatever is behind it. */
const inFlight = (s: Setup): number => s.ejabberdPool;
const processes = (s: Setup): number => (viaSocket(s) ? s.gatehouse! : s.ejabberdPool * (s.gatehouse ?? 1));
const okFail = (r: RateResult): string => `${r.ok} / ${r.fail}${r.cut > 0 ? ` (+${r.cut} cut)` : ''}`;

/** One setup measured in several rounds: every rate, and the last round's counts and memory. */
interface Rounds extends Measured {
  rates: number[];
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const rateCell = (r: Rounds): string =>
  r.rates.length === 1 ? fmt.rate(r.rates[0]!) : `${fmt.rate(mean(r.rates))} (${r.rates.map((x) => Math.round(x).toLocaleString('en-US')).join(', ')})`;

/**
 * Each setup `rounds` times, the rounds in alternating order (forward, then backward), so a
 * drift of the machine's speed during the run weighs on every row alike.
 */
async function measureRounds(setups: Setup[], dir: string, rounds: number, limits: (s: Setup) => { warmup: number; count: number; seconds: number }): Promise<Rounds[]> {
  const out = setups.map((setup) => ({ setup, rates: [] as number[], last: null as Measured | null }));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? out : [...out].reverse();
    for (const o of order) {
      const m = await measure(o.setup, dir, limits(o.setup));
      o.rates.push(m.rate.perSecond);
      o.last = m;
    }
  }
  return out.map((o) => ({ ...o.last!, rates: o.rates }));
}

/**
 * The Erlang VM's schedulers busy-wait for a while before they sleep (`+sbwt`, default medium):
 * on a machine with few cores, that spinning takes CPU from the processes ejabberd is waiting
 * for, and the more processes on the auth path, the more it weighs. The second table measures
 * the same paths with busy waiting off, a common setting for Erlang on shared or small hosts.
 */
const NO_BUSY_WAIT = '+sbwt none +sbwtdcpu none +sbwtdio none';

async function fastScript(quick: boolean, dir: string, erlOptions?: string): Promise<void> {
  const limits = { warmup: 100, count: 20_000, seconds: quick ? 1.5 : 5 };
  // Quick mode is a smoke check: fewer rows (each costs an ejabberd start and stop), short runs.
  const pools = quick ? [4] : erlOptions === undefined ? [1, 4, 16] : [4, 16];
  const rounds = quick ? 1 : 2;
  // Two rows more: what serve costs when it answers without the script (its cache), and the
  // floor (a bare relay): what any process between ejabberd and the script costs at least.
  const setups = pools.flatMap((p) => [...paths(FAST, p), ...(p > 1 ? [socketedCached(FAST, p, p), floored(FAST, p)] : [])]).map((x) => ({ ...x, erlOptions }));
  const results = await measureRounds(setups, dir, rounds, () => limits);
  const baseline = (pool: number): Rounds => results.find((m) => m.setup.via === 'direct' && m.setup.ejabberdPool === pool)!;
  printTable(
    `ejabberd SASL PLAIN logins, fast script (ejabberd protocol), ${CONCURRENCY} clients, ${limits.seconds} s per row and round, ${rounds} round(s), ejabberd's VM: ${erlOptions ?? "the package's defaults"} (load avg ${loadavg()[0]!.toFixed(1)})`,
    ['path', 'ejabberd pool', 'script processes', 'logins/s: mean (each round)', 'vs direct, same ejabberd pool', 'ok / fail (last round)', 'CPU µs per login: ejabberd VM / auth side (last round)', 'auth-side processes', 'RSS MB', 'PSS MB', 'RSS / PSS vs direct'],
    results.map((m) => [
      m.setup.via === 'direct' ? `${m.setup.label} (baseline)` : m.setup.label,
      m.setup.ejabberdPool,
      processes(m.setup),
      rateCell(m),
      m.setup.via === 'direct' ? '' : fmt.pct(mean(m.rates) / mean(baseline(m.setup.ejabberdPool).rates)),
      okFail(m.rate),
      `${Math.round(m.cpu.ejabberd)} / ${Math.round(m.cpu.auth)}`,
      ...memCells(m, baseline(m.setup.ejabberdPool)),
    ]),
  );
}

async function slowScript(quick: boolean, dir: string): Promise<void> {
  const seconds = quick ? 2 : 6;
  const pools = quick ? [4] : [1, 4, 16];
  const results = await measureRounds(pools.flatMap((p) => paths(SLOW, p)), dir, 1, (s) => ({ warmup: 2 * inFlight(s), count: 5000, seconds }));
  const baseline = (pool: number): Measured => results.find((m) => m.setup.via === 'direct' && m.setup.ejabberdPool === pool)!;
  printTable(
    `ejabberd SASL PLAIN logins, script sleeping 50 ms per query, ${CONCURRENCY} clients, ${seconds} s per row (load avg ${loadavg()[0]!.toFixed(1)})`,
    ['path', 'ejabberd pool', 'script processes', 'ideal (in flight / 0.05 s)', 'logins/s', 'of ideal', 'ok / fail', 'auth-side processes', 'RSS MB', 'PSS MB', 'RSS / PSS vs direct'],
    results.map((m) => {
      const ideal = inFlight(m.setup) / 0.05;
      return [
        m.setup.via === 'direct' ? `${m.setup.label} (baseline)` : m.setup.label,
        m.setup.ejabberdPool,
        processes(m.setup),
        fmt.rate(ideal),
        fmt.rate(m.rate.perSecond),
        fmt.pct(m.rate.perSecond / ideal),
        okFail(m.rate),
        ...memCells(m, baseline(m.setup.ejabberdPool)),
      ];
    }),
  );
}

/**
 * ejabberd logins/s and auth-side memory, direct extauth vs a bridge per worker vs serve's
 * socket (the C connector handing over or relaying, the Perl one relaying) vs the floor (a bare
 * C relay per worker), with the Erlang VM as packaged and with its busy waiting off, each table
 * with its baseline from this run. About 17 minutes (quick: about three). Needs the Debian ejabberd package; it runs private instances
 * on loopback only and stops each one.
 */
export async function runEjabberdBench(quick: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-ejabberd-'));
  try {
    await fastScript(quick, dir);
    await fastScript(quick, dir, NO_BUSY_WAIT);
    await slowScript(quick, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
