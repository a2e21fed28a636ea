/**
 * What every interop harness (ejabberd, Prosody, Postfix) needs to leave nothing behind: the
 * real servers run in process groups of their own (or daemonize), so a Ctrl-C or a runner's
 * SIGTERM that ends the test process would not reach them. Each harness registers how to kill
 * what it started; one set of hooks runs every registration when the test process exits or is
 * signalled.
 */
import { rmSync } from 'node:fs';
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
