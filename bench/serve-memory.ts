/**
 * The memory of `gatehouse serve` with the Node options of its bin (`bin/gatehouse.js`'s `#!`
 * line) against Node's defaults: one serve with 16 script processes (the fast script, ejabberd
 * protocol) and its extauth socket, read at start and again after 16 workers have logged in
 * through the socket in lockstep, as ejabberd's do. The workers are this benchmark's own
 * connections (no ejabberd: what is measured is serve). Rounds alternate the two setups.
 *
 * The logins/s column is what serve did on this machine with the load client beside it; it
 * shows the CPU the smaller young generation costs, not a rate to expect from ejabberd.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryOf, tree, type Memory } from './lib/memory.js';
import { gatehouseNodeFlags } from './lib/node-flags.js';
import { fmt, printTable } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = process.env.GATEHOUSE_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const WORKERS = 16;
const PROCESSES = 16;

interface Sample {
  rate: number;
  start: Memory;
  loaded: Memory;
  withScripts: Memory;
}

/** One ejabberd frame: 2 bytes of length, then the query. */
function frame(query: string): Buffer {
  const q = Buffer.from(query);
  const b = Buffer.alloc(2 + q.length);
  b.writeUInt16BE(q.length);
  q.copy(b, 2);
  return b;
}

/** `WORKERS` connections, each sending its next login once the last is answered; bounded in time and count. */
async function lockstepLoad(socket: string, seconds: number, maxLogins: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from(
      { length: WORKERS },
      (_, i) =>
        new Promise<void>((resolve, reject) => {
          const query = frame(`auth:user${i}:localhost:secret`);
          const c = connect(socket);
          c.on('error', reject);
          c.on('connect', () => c.write(query));
          c.on('data', (d: Buffer) => {
            // The fast script answers yes to "secret": anything else is a broken run.
            if (d.length !== 4 || d.readUInt16BE(0) !== 2 || d.readUInt16BE(2) !== 1) return reject(new Error(`unexpected answer ${d.toString('hex')}`));
            done++;
            if (performance.now() < end && done < maxLogins) c.write(query);
            else c.end(resolve);
          });
        }),
    ),
  );
  return done / ((performance.now() - started) / 1000);
}

async function measure(flags: string[], dir: string, seconds: number): Promise<Sample> {
  const socket = join(dir, 'extauth.sock');
  rmSync(socket, { force: true });
  const config = join(dir, 'serve.toml');
  writeFileSync(
    config,
    [
      `external_auth_command = ${JSON.stringify([PYTHON, join(ROOT, 'bench/scripts/fast_ejabberd.py')])}`,
      'external_auth_protocol = "ejabberd"',
      `external_auth_processes = ${PROCESSES}`,
      `extauth_socket = ${JSON.stringify(socket)}`,
      'http_ports = [0]',
      'log_level = "warn"',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [...flags, join(ROOT, 'bin/gatehouse.js'), 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const deadline = Date.now() + 15_000;
    while (!existsSync(socket)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`gatehouse serve did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    // Let every script process come up before the first reading.
    await new Promise((r) => setTimeout(r, 1000));
    const start = memoryOf([child.pid!]);
    const rate = await lockstepLoad(socket, seconds, 5_000_000);
    return { rate, start, loaded: memoryOf([child.pid!]), withScripts: memoryOf(tree(child.pid!)) };
  } finally {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}

export async function runServeMemoryBench(quick: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-serve-memory-'));
  const seconds = quick ? 1.5 : 5;
  const rounds = quick ? 1 : 3;
  const setups = [
    { label: "Node's defaults (baseline)", flags: [] as string[] },
    { label: `the bin's: ${gatehouseNodeFlags().join(' ')}`, flags: gatehouseNodeFlags() },
  ];
  const samples: Sample[][] = setups.map(() => []);
  try {
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) samples[i]!.push(await measure(setups[i]!.flags, dir, seconds));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const mb = (kb: number): string => (kb / 1024).toFixed(1);
  const range = (xs: number[]): string => `${mb(Math.min(...xs))}-${mb(Math.max(...xs))}`;
  printTable(
    `gatehouse serve's memory, MB (min-max over ${rounds} round(s)): ${PROCESSES} script processes, ${WORKERS} lockstep workers on its extauth socket for ${seconds} s (load avg ${loadavg()[0]!.toFixed(1)})`,
    ['Node options', 'logins/s (each round)', 'serve RSS at start', 'serve PSS at start', 'serve RSS after load', 'serve PSS after load', 'serve + scripts PSS after load'],
    setups.map((s, i) => {
      const xs = samples[i]!;
      return [
        s.label,
        xs.map((x) => fmt.rate(x.rate)).join(', '),
        range(xs.map((x) => x.start.rssKb)),
        range(xs.map((x) => x.start.pssKb)),
        range(xs.map((x) => x.loaded.rssKb)),
        range(xs.map((x) => x.loaded.pssKb)),
        range(xs.map((x) => x.withScripts.pssKb)),
      ];
    }),
  );
}
