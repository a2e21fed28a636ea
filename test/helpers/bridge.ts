/** Run the real `gatehouse extauth` bridge as a server would: a child process on pipes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childPids, forgetOnTestExit, killOnTestExit, killQuiet } from './cleanup.js';
import { GATEHOUSE_BIN } from './paths.js';

/** Write a config file in a fresh temp dir; returns its path. */
export function writeConfig(toml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-cfg-'));
  const file = join(dir, 'gatehouse.toml');
  writeFileSync(file, toml);
  return file;
}

/** TOML for a fixture script run by this Node. */
export function fixtureCommand(path: string): string {
  return `external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(path)}]`;
}

export interface BridgeRun {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): Buffer;
  stderr(): string;
  /** Resolves when stdout holds at least `n` bytes (or rejects after `ms`). */
  waitForBytes(n: number, ms?: number): Promise<Buffer>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * SIGKILL the bridge and its script processes (each the leader of its own process group),
   * then wait for the bridge to be gone. Safe to call at any time, also after it exited. A
   * bridge still running when the test process exits is killed the same way.
   */
  stop(): Promise<void>;
}

export function startBridge(
  configFile: string,
  serveProtocol: 'generic' | 'ejabberd',
  env: NodeJS.ProcessEnv = {},
  args: readonly string[] = [],
): BridgeRun {
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'extauth', '--config', configFile, '--serve-protocol', serveProtocol, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = Buffer.alloc(0);
  let err = '';
  let gone = false;
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (c: Buffer) => {
    out = Buffer.concat([out, c]);
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const kill = (): void => {
    if (gone || child.pid === undefined) return;
    for (const pid of childrenOf(child.pid)) killGroup(pid);
    child.kill('SIGKILL');
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      gone = true;
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal });
    }),
  );
  const run: BridgeRun = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForBytes(n, ms = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${out.length} of ${n} bytes after ${ms} ms; stderr:\n${err}`)), ms);
        const check = (): void => {
          if (out.length >= n) {
            clearTimeout(timer);
            resolve(out);
          } else if (gone) {
            clearTimeout(timer);
            reject(new Error(`exited with ${out.length} of ${n} bytes; stderr:\n${err}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop() {
      kill();
      await exited;
    },
  };
  // Should the test process end (or be signalled) with the bridge still running.
  killOnTestExit(kill);
  void exited.then(() => forgetOnTestExit(kill));
  return run;
}

/** SIGKILL the process group led by `pid`, and the process itself should it lead none. */
function killGroup(pid: number): void {
  killQuiet(-pid, 'SIGKILL');
  killQuiet(pid, 'SIGKILL');
}

/** PIDs of the live processes whose parent is `pid` (from /proc). */
export const childrenOf = childPids;
