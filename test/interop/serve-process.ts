/** `gatehouse serve` as a child process, for interop tests with real peers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killWithScripts } from '../helpers/cleanup.js';
import { GATEHOUSE_BIN } from '../helpers/paths.js';

export interface ServeProcess {
  child: ChildProcess;
  dovecotPort: number;
  dovecotSocket: string;
  stderr(): string;
  stop(): Promise<void>;
  /** SIGKILL, with its scripts: serve ends without closing anything itself. */
  kill(): Promise<void>;
}

/** Start `gatehouse serve` with the Dovecot face on a free loopback port and a world-connectable socket. */
export async function startServe(
  scriptArgv: string[],
  extra = '',
  env: NodeJS.ProcessEnv = {},
  /** The log line that says it is ready (the last listener it starts). */
  readyLine = 'Dovecot auth protocol listening',
): Promise<ServeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-serve-'));
  // smtpd runs as the postfix user: it must be able to reach the socket inside.
  chmodSync(dir, 0o755);
  const dovecotSocket = join(dir, 'auth-client');
  const config = join(dir, 'gatehouse.toml');
  writeFileSync(
    config,
    `external_auth_command = ${JSON.stringify(scriptArgv)}
http_ports = [0]
# Port 0: the kernel picks a free one, read back from the log. A port found free beforehand
# may be handed to the HTTP listener's port 0 before the Dovecot face binds it.
dovecot_auth_port = 0
dovecot_auth_socket = ${JSON.stringify(dovecotSocket)}
# Postfix's smtpd connects as the postfix user.
dovecot_auth_socket_mode = 0o666
log_level = "info"
${extra}
`,
  );
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Generous: a loaded machine starts slowly, and the wait only costs time on failure.
  const end = Date.now() + 60_000;
  // Ready once the ready line is out and the Dovecot face's line is whole (it comes first).
  let dovecotPort: number | undefined;
  while (!err.includes(readyLine) || (dovecotPort = dovecotPortOf(err)) === undefined) {
    if (child.exitCode !== null || Date.now() > end) {
      killWithScripts(child);
      throw new Error(`gatehouse serve did not start:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    child,
    dovecotPort,
    dovecotSocket,
    stderr: () => err,
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => killWithScripts(child), 5000);
      await exited;
      clearTimeout(t);
    },
    async kill() {
      killWithScripts(child);
      await exited;
    },
  };
}

/** The port of the Dovecot face, from serve's log line that says it listens. */
function dovecotPortOf(log: string): number | undefined {
  // Whole lines only: the last piece may be a line still being written.
  for (const line of log.split('\n').slice(0, -1)) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; ports?: number[] };
    if (entry.msg === 'Dovecot auth protocol listening') return entry.ports?.[0];
  }
  return undefined;
}
