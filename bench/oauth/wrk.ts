/**
 * Runs wrk with one of the Lua scripts in bench/wrk/ and reads back what the script counted:
 * responses with the expected status and body (`ok`), any other response (`bad`, with the
 * first one as a sample) and wrk's socket errors. The load tool is the same for both servers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const WRK_THREADS = 2;
export const WRK_CONNECTIONS = 32;

export interface WrkResult {
  /** Responses with the expected status and body. */
  ok: number;
  /** Other responses. */
  bad: number;
  /** wrk's connect, read, write and timeout errors. */
  socketErrors: number;
  /** The first unexpected response: status and the start of its body. */
  sample: string | null;
  /** Successful operations per second over the measured window. */
  rate: number;
  /** The measured window, in seconds. */
  seconds: number;
  /** wrk's latency percentiles, ms (write of a request to its response). */
  p50Ms: number;
  p99Ms: number;
  /**
   * Start and end of the run's activity, µs on CLOCK_MONOTONIC (one clock for every process of
   * the machine, so the windows of wrk runs made at the same time can be joined): the first
   * request sent (codes.lua) or first response (post.lua), and the last response.
   */
  firstUs: number;
  lastUs: number;
}

export interface WrkRun {
  /** A script in bench/wrk/. */
  script: 'post.lua' | 'codes.lua';
  url: string;
  /** Whole seconds (wrk's resolution); the upper bound of the run. */
  seconds: number;
  env: Record<string, string>;
  /**
   * codes.lua: end the run when every thread has used and seen answered all of its codes,
   * and measure from the first request sent to the last response received.
   */
  untilExhausted?: boolean;
  /** Default WRK_THREADS / WRK_CONNECTIONS. */
  threads?: number;
  connections?: number;
}

interface RawResult {
  ok: number;
  bad: number;
  firstUs: number;
  lastUs: number;
  durationUs: number;
  requests: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  sample: string | null;
  p50Us?: number;
  p99Us?: number;
}

export function wrkVersion(): string | null {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined) return null;
  return /wrk (\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown';
}

export async function runWrk(root: string, run: WrkRun): Promise<WrkResult> {
  const threads = run.threads ?? WRK_THREADS;
  const args = ['-t', String(threads), '-c', String(run.connections ?? WRK_CONNECTIONS), '-d', `${run.seconds}s`, '--timeout', '10s', '-s', join(root, 'bench/wrk', run.script), run.url];
  const child = spawn('wrk', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GH_THREADS: String(threads), ...run.env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-2000);
  });
  let raw: RawResult | null = null;
  let threadsDone = 0;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (line === 'GH-THREAD-DONE') {
      // wrk sleeps for the whole -d; SIGINT wakes it to stop its threads and report.
      if (++threadsDone === threads && run.untilExhausted) child.kill('SIGINT');
    } else if (line.startsWith('GH-RESULT ')) {
      raw = JSON.parse(line.slice('GH-RESULT '.length)) as RawResult;
    }
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), (run.seconds + 20) * 1000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(guard);
  const r = raw as RawResult | null;
  if (r === null) throw new Error(`wrk ${args.join(' ')} exited with ${code} without a result: ${stderr.trim()}`);
  const e = r.socketErrors;
  const seconds = run.untilExhausted && r.lastUs > r.firstUs ? (r.lastUs - r.firstUs) / 1e6 : r.durationUs / 1e6;
  return {
    ok: r.ok,
    bad: r.bad,
    socketErrors: e.connect + e.read + e.write + e.timeout,
    sample: r.sample,
    rate: seconds > 0 ? r.ok / seconds : 0,
    seconds,
    p50Ms: (r.p50Us ?? NaN) / 1000,
    p99Ms: (r.p99Us ?? NaN) / 1000,
    firstUs: r.firstUs,
    lastUs: r.lastUs,
  };
}
