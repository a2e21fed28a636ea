/**
 * Benchmarks of the external auth engine and the bridge, each against its baseline measured
 * in the same run on the same script:
 *  1. sequential latency: engine vs a bare pipe driver (the physical limit);
 *  2. throughput with a fast script at pool sizes 1, 2, 4 vs the bare driver at the same concurrency;
 *  3. scaling with a script that sleeps 50 ms at pool sizes 1, 4, 8, 16 vs the ideal (N / 0.05 s);
 *  4. the bridge end to end (`gatehouse extauth` on pipes) vs the script alone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExtauthEngine } from '../src/extauth/engine.js';
import { BareDriver } from './lib/bare.js';
import { gatehouseArgv } from './lib/node-flags.js';
import { alternating, closedLoop } from './lib/load.js';
import { fmt, printTable, quantile, sortedCopy } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FAST = ['python3', join(ROOT, 'bench/scripts/fast.py')];
/**
 * The one-process measurements pin the script to the machine's last CPU and Node to the first.
 * A round trip takes about 15 µs when the scheduler happens to run the script on Node's CPU
 * and about 55 µs when it wakes it on another one, and it places (and moves) each process
 * anew: unpinned, a comparison of two processes mostly measures where each one landed. Pinned,
 * both sides alike, it measures the engine.
 */
const CAN_PIN = cpus().length > 1 && existsSync('/usr/bin/taskset');
const FAST_PINNED = CAN_PIN ? ['taskset', '-c', String(cpus().length - 1), ...FAST] : FAST;

/** Run `fn` with this process (all its threads) on CPU 0, away from the pinned scripts. */
async function onFirstCpu<T>(fn: () => Promise<T>): Promise<T> {
  if (!CAN_PIN) return fn();
  spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  try {
    return await fn();
  } finally {
    spawnSync('taskset', ['-a', '-p', '-c', `0-${cpus().length - 1}`, String(process.pid)], { stdio: 'ignore' });
  }
}
const SLOW = ['python3', join(ROOT, 'bench/scripts/sleep50.py')];
const QUERY = 'auth:alice:localhost:secret';
const QUERY_LINE = Buffer.from(`${QUERY}\n`);

function engine(argv: string[], size: number): ExtauthEngine {
  return new ExtauthEngine({ argv, protocol: 'generic', size, timeoutMs: 5000, queueLimit: 100_000, queueTimeoutMs: 30_000 });
}

async function ready(e: ExtauthEngine, size: number): Promise<void> {
  const end = Date.now() + 5000;
  while (e.stats().idle < size && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

async function sequentialLatency(quick: boolean): Promise<void> {
  const n = quick ? 2000 : 10_000;
  const bare = new BareDriver(FAST_PINNED);
  const e = engine(FAST_PINNED, 1);
  await ready(e, 1);
  const rounds: { bare: number[]; engine: number[] } = { bare: [], engine: [] };
  for (let i = 0; i < 300; i++) await bare.query(QUERY_LINE);
  for (let i = 0; i < 300; i++) await e.auth('alice', 'localhost', 'secret');
  // Many short rounds, alternating which side goes first (alternating()).
  const count = 20;
  const bareRound = async (): Promise<void> => {
    rounds.bare.push(...(await closedLoop(1, () => bare.query(QUERY_LINE), { maxCount: n / count, maxMs: 10_000, recordLatency: true })).latenciesMs);
  };
  const engineRound = async (): Promise<void> => {
    rounds.engine.push(...(await closedLoop(1, () => e.auth('alice', 'localhost', 'secret'), { maxCount: n / count, maxMs: 10_000, recordLatency: true })).latenciesMs);
  };
  await alternating(count, bareRound, engineRound);
  await Promise.all([bare.close(), e.close()]);
  const b = sortedCopy(rounds.bare);
  const g = sortedCopy(rounds.engine);
  const over = (q: number): string => fmt.pct(quantile(g, q) / quantile(b, q) - 1);
  printTable(`Sequential auth latency, fast Python script, ${b.length} queries each (target: overhead < 10% at p50)`, ['driver', 'p50', 'p99', 'overhead p50', 'overhead p99'], [
    ['bare pipe (baseline)', fmt.us(quantile(b, 0.5)), fmt.us(quantile(b, 0.99)), '', ''],
    ['Gatehouse engine', fmt.us(quantile(g, 0.5)), fmt.us(quantile(g, 0.99)), over(0.5), over(0.99)],
  ]);
}

/** Requests per second of the bare pipes and of the engine at `size` processes. */
async function throughputAt(size: number, argv: string[], quick: boolean): Promise<[number, number]> {
  const ms = quick ? 1000 : 4000;
  const bares = Array.from({ length: size }, () => new BareDriver(argv));
  const e = engine(argv, size);
  await ready(e, size);
  for (const b of bares) for (let i = 0; i < 200; i++) await b.query(QUERY_LINE);
  for (let i = 0; i < 200 * size; i++) await e.auth('alice', 'localhost', 'secret');
  // Many short rounds, alternating which side goes first (alternating()), summed per side.
  const rounds = quick ? 4 : 20;
  const b = { count: 0, seconds: 0 };
  const g = { count: 0, seconds: 0 };
  const round = async (side: 'bare' | 'engine'): Promise<void> => {
    const r =
      side === 'bare'
        ? await closedLoop(size, (c) => bares[c]!.query(QUERY_LINE), { maxCount: 1e7, maxMs: ms / rounds })
        : await closedLoop(size, () => e.auth('alice', 'localhost', 'secret'), { maxCount: 1e7, maxMs: ms / rounds });
    const total = side === 'bare' ? b : g;
    total.count += r.count;
    total.seconds += r.seconds;
  };
  await alternating(rounds, () => round('bare'), () => round('engine'));
  await Promise.all([...bares.map((x) => x.close()), e.close()]);
  return [b.count / b.seconds, g.count / g.seconds];
}

async function throughput(quick: boolean): Promise<void> {
  const rows: (string | number)[][] = [];
  for (const size of [1, 2, 4]) {
    // One process: pinned like the sequential measurement; more: left to the scheduler, which
    // then has as many scripts to place on both sides.
    const [br, gr] = size === 1 ? await onFirstCpu(() => throughputAt(1, FAST_PINNED, quick)) : await throughputAt(size, FAST, quick);
    rows.push([size, fmt.rate(br), fmt.rate(gr), fmt.pct(gr / br)]);
  }
  printTable(
    'Throughput, fast Python script, closed loop with concurrency = processes (target: >= 90% of bare)',
    ['processes', 'bare pipes (baseline)', 'Gatehouse engine', 'engine / bare'],
    rows,
  );
  if (CAN_PIN) console.log(`\n- One process (and the sequential table): the scripts on CPU ${cpus().length - 1}, Node on CPU 0, both sides alike.`);
}

async function slowScaling(quick: boolean): Promise<void> {
  const ms = quick ? 1500 : 3000;
  const rows: (string | number)[][] = [];
  for (const size of [1, 4, 8, 16]) {
    // The bare pipes at the same process count show what this machine allows. Both sides run
    // in alternating rounds (their idle processes only wait on a read).
    const bares = Array.from({ length: size }, () => new BareDriver(SLOW));
    const e = engine(SLOW, size);
    await ready(e, size);
    // One answered query per bare process first: until then it may still be starting (32
    // Python interpreters starting at once on 2 cores take most of a second).
    await Promise.all(bares.map((x) => x.query(QUERY_LINE)));
    const rounds = quick ? 2 : 4;
    const b = { count: 0, seconds: 0 };
    const g = { count: 0, seconds: 0 };
    const bareRound = async (): Promise<void> => {
      const r = await closedLoop(size, (c) => bares[c]!.query(QUERY_LINE), { maxCount: 1e6, maxMs: ms / rounds });
      b.count += r.count;
      b.seconds += r.seconds;
    };
    const engineRound = async (): Promise<void> => {
      const r = await closedLoop(size * 2, () => e.auth('alice', 'localhost', 'secret'), { maxCount: 1e6, maxMs: ms / rounds });
      g.count += r.count;
      g.seconds += r.seconds;
    };
    await alternating(rounds, bareRound, engineRound);
    await Promise.all([...bares.map((x) => x.close()), e.close()]);
    const ideal = size / 0.05;
    const bareRate = b.count / b.seconds;
    const rate = g.count / g.seconds;
    rows.push([size, fmt.rate(ideal), fmt.rate(bareRate), fmt.pct(bareRate / ideal), fmt.rate(rate), fmt.pct(rate / ideal), fmt.pct(rate / bareRate)]);
  }
  printTable('Scaling, script sleeping 50 ms per query (target: >= 94% of the ideal processes / 0.05 s)', ['processes', 'ideal', 'bare pipes (baseline)', 'bare of ideal', 'Gatehouse engine', 'engine of ideal', 'engine / bare'], rows);
}

/**
 * Write `lines` queries to a process's stdin in one go; resolve with the rate when `lines`
 * replies came back. Every reply must be "1": a refused query would make a fast but wrong row.
 */
function pipelined(argv: string[], lines: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv as [string, ...string[]];
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    let got = 0;
    let yes = 0;
    const t0 = performance.now();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pipelined run: ${got} of ${lines} replies after 60 s`));
    }, 60_000);
    child.stdout.on('data', (c: Buffer) => {
      for (const byte of c) {
        if (byte === 10) got++;
        else if (byte === 0x31) yes++;
      }
      if (got >= lines) {
        const s = (performance.now() - t0) / 1000;
        clearTimeout(timer);
        child.stdin.end();
        if (yes !== lines) reject(new Error(`pipelined run: ${yes} of ${lines} replies were yes`));
        else resolve(lines / s);
      }
    });
    child.once('error', reject);
    child.stdin.write(Buffer.alloc(QUERY_LINE.length * lines, QUERY_LINE));
  });
}

async function bridge(quick: boolean): Promise<void> {
  const n = quick ? 2000 : 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-'));
  const rows: (string | number)[][] = [];
  try {
    const bin = gatehouseArgv('extauth', '--config');
    // Sequential round trips through the bridge vs the script alone.
    const cfg = (size: number): string => {
      const file = join(dir, `pool${size}.toml`);
      writeFileSync(file, `external_auth_command = ${JSON.stringify(FAST)}\nexternal_auth_processes = ${size}\nlog_level = "silent"\n`);
      return file;
    };
    for (const [label, argv] of [
      ['script alone (baseline)', FAST],
      ['gatehouse extauth -> script, pool 1', [...bin, cfg(1)]],
    ] as [string, string[]][]) {
      const d = new BareDriver(argv);
      await new Promise((r) => setTimeout(r, 400)); // start-up, and the bridge's quiet period
      for (let i = 0; i < 300; i++) await d.query(QUERY_LINE);
      const r = await closedLoop(1, () => d.query(QUERY_LINE), { maxCount: n, maxMs: 10_000, recordLatency: true });
      await d.close();
      const lat = sortedCopy(r.latenciesMs);
      rows.push([label, 'one at a time', fmt.rate(r.count / r.seconds), fmt.us(quantile(lat, 0.5))]);
    }
    // Pipelined: every query written at once, as a busy server does.
    const lines = quick ? 5000 : 20_000;
    rows.push(['script alone (baseline)', `${lines} pipelined`, fmt.rate(await pipelined(FAST, lines)), '']);
    for (const size of [1, 2, 4]) {
      const argv = [...bin, cfg(size)];
      rows.push([`gatehouse extauth -> script, pool ${size}`, `${lines} pipelined`, fmt.rate(await pipelined(argv, lines)), '']);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printTable('Bridge end to end: queries piped through `gatehouse extauth` vs the script alone', ['path', 'load', 'rate', 'p50'], rows);
}

export async function runExtauthBench(quick: boolean): Promise<void> {
  // GH_BENCH_EXTAUTH=throughput,scaling runs only those parts (to look at one closely).
  const parts = process.env['GH_BENCH_EXTAUTH']?.split(',') ?? null;
  const want = (name: string): boolean => parts === null || parts.includes(name);
  if (want('sequential')) await onFirstCpu(() => sequentialLatency(quick));
  if (want('throughput')) await throughput(quick);
  if (want('scaling')) await slowScaling(quick);
  if (want('bridge')) await bridge(quick);
}
