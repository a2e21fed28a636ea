/**
 * What every harness that starts processes (ejabberd, Prosody, Postfix, the extauth bridge) needs to leave nothing behind: the
 * real servers run in process groups of their own (or daemonize), so a Ctrl-C or a runner's
 * SIGTERM that ends the test process would not reach them. Each harness registers how to kill
 * what it started; one set of hooks runs every registration when the test process exits or is
 * signalled.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { constants } from 'node:os';

export function killQuiet(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

export function rmQuiet(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    /* ignore */
  }
}

/**
 * SIGKILL a Gatehouse process and the auth script processes it started (each of which leads
 * a process group of its own, which goes with it). For a test's cleanup: safe on a process
 * that has already exited.
 */
export function killWithScripts(child: ChildProcess): void {
  const pid = child.pid;
  // An exited process's pid may already be another's.
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  for (const child of childPids(pid)) {
    killQuiet(-child, 'SIGKILL');
    killQuiet(child, 'SIGKILL');
  }
  killQuiet(pid, 'SIGKILL');
}

/**
 * SIGTERM (Gatehouse's orderly stop: its scripts are stopped, its connections closed), and
 * whatever is still there after `graceMs` is killed with killWithScripts.
 */
export async function stopGracefully(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
  clearTimeout(timer);
  killWithScripts(child);
}

/** PIDs of the live processes whose /proc stat fields satisfy `keep` (fields after the name). */
function processesWhere(keep: (fields: string[]) => boolean): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command (which may hold spaces) start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (keep(fields)) out.push(Number(name));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** PIDs of the live processes whose parent is `pid` (from /proc). */
export function childPids(pid: number): number[] {
  return processesWhere((f) => Number(f[1]) === pid);
}

/** PIDs of the live (not zombie) processes of process group `pgid` (from /proc). */
export function groupMembers(pgid: number): number[] {
  return processesWhere((f) => Number(f[2]) === pgid && f[0] !== 'Z');
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const cleanups = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const cleanup of cleanups) cleanup();
}

/**
 * Run `kill` (synchronous: it may run in an 'exit' listener) if the test process exits or is
 * signalled before the harness stopped its server itself. Registering the same function again
 * does nothing.
 */
export function killOnTestExit(kill: () => void): void {
  cleanups.add(kill);
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      runAll();
      // Nobody else handles this signal: keep its default meaning (terminate).
      if (process.listenerCount(sig) === 1) process.exit(128 + (constants.signals[sig] ?? 1));
    });
  }
}

/** Forget a registration of killOnTestExit (its process was stopped). */
export function forgetOnTestExit(kill: () => void): void {
  cleanups.delete(kill);
}
