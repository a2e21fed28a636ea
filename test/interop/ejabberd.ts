// Private, loopback-only ejabberd 23.01 (Debian package) for interop tests.
//
// Each instance gets its own temp dir (config, ejabberdctl.cfg, inetrc, mnesia spool, logs),
// its own Erlang node name and cookie, and two free loopback ports picked at run time: the
// c2s listener and the Erlang distribution port. Distribution runs WITHOUT epmd
// (ERL_DIST_PORT => -erl_epmd_port P -start_epmd false), so the system epmd (and any other
// Erlang node on the machine, e.g. a system ejabberd or RabbitMQ) is never touched.
// ejabberd runs as the current user (root in CI): the private ejabberdctl.cfg sets
// EXEC_CMD=as_current_user, which overrides the script's "su ejabberd" for root.
// See test/interop/EJABBERD_NOTES.md.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net.js';
import { killOnTestExit, killQuiet, rmQuiet, sleep } from '../helpers/cleanup.js';
import { randomBytes } from 'node:crypto';

export interface EjabberdOptions {
  /** extauth_program: a /bin/sh command line (ejabberd runs it with open_port({spawn, Cmd})). */
  extauthProgram: string;
  /** extauth_pool_size (default 1). */
  poolSize?: number;
  /** XMPP virtual host (default "localhost"). */
  host?: string;
  /** ejabberd loglevel (default "info"; use "warning" for load tests). */
  loglevel?: 'none' | 'emergency' | 'alert' | 'critical' | 'error' | 'warning' | 'notice' | 'info' | 'debug';
  /** Bound on the wait for the c2s port (default 30000 ms). */
  startTimeoutMs?: number;
  /** Extra top-level YAML appended to ejabberd.yml (must not repeat keys written here). */
  extraConfig?: string;
  /** Keep the temp dir after stop() (default false; env GATEHOUSE_KEEP_EJABBERD=1 also keeps it). */
  keepDir?: boolean;
  /** SIGTERM grace before SIGKILL in stop() (default 3000 ms). */
  stopGraceMs?: number;
  /** Extra environment for ejabberd (inherited by the extauth program). */
  env?: Record<string, string>;
  /** Extra options of the Erlang VM (ejabberdctl.cfg's ERL_OPTIONS), e.g. scheduler flags. */
  erlOptions?: string;
}

export interface CtlResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Ejabberd {
  /** c2s port on 127.0.0.1 (plain TCP, SASL PLAIN allowed without TLS). */
  port: number;
  /** XMPP virtual host. */
  host: string;
  /** Erlang node name, e.g. gh1a2b3c4d@localhost. */
  node: string;
  /** Erlang distribution port on 127.0.0.1 (no epmd). */
  distPort: number;
  dir: string;
  configDir: string;
  spoolDir: string;
  logDir: string;
  /** Milliseconds from spawn until c2s answered a stream header with its features. */
  startMs: number;
  /** Runs `ejabberdctl --config-dir .. --spool .. --logs .. <args>` against this node (~0.5 s each). */
  ctl(args: string[], opts?: { timeoutMs?: number }): Promise<CtlResult>;
  /** Last lines of ejabberd.log (plus error.log and console output if present). */
  logTail(lines?: number): string;
  /** PIDs currently running under the ejabberd VM (extauth processes, memsup, ...). */
  childPids(): number[];
  /** SIGTERM (graceful, ~1 s), SIGKILL after stopGraceMs; kills leftover children; removes the dir. */
  stop(): Promise<void>;
}

const EJABBERDCTL = process.env.GATEHOUSE_EJABBERDCTL ?? '/usr/sbin/ejabberdctl';

// ---------------------------------------------------------------------------------------------
// process bookkeeping via /proc (Linux). erl_child_setup puts every spawned port program
// (the extauth processes) in its own process group, so killing the VM's group is not enough.

interface ProcId {
  pid: number;
  start: string;
}

function procStat(pid: number): { ppid: number; start: string } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] = state, rest[1] = ppid, ..., rest[19] = starttime
    if (rest[0] === 'Z') return null;
    return { ppid: Number(rest[1]), start: rest[19] ?? '' };
  } catch {
    return null;
  }
}

function descendants(root: number): ProcId[] {
  const children = new Map<number, ProcId[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    const st = procStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push({ pid, start: st.start });
    children.set(st.ppid, list);
  }
  const out: ProcId[] = [];
  const stack = [root];
  while (stack.length > 0 && out.length < 10000) {
    const p = stack.pop()!;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      stack.push(c.pid);
    }
  }
  return out;
}

function alive(p: ProcId): boolean {
  const st = procStat(p.pid);
  return st !== null && st.start === p.start;
}

// Instances still running: killed synchronously if the test process exits without stop().
interface LiveInstance {
  group: number;
  tracked: () => ProcId[];
  dir: string;
  keep: () => boolean;
}
const live = new Set<LiveInstance>();
function killAllLive(): void {
  for (const inst of live) {
    // Leaves first (extauth programs), while erl_child_setup is still alive to reap them.
    const procs = inst.tracked().reverse();
    for (const p of procs) if (alive(p) && !readCommIs(p.pid, 'beam')) killQuiet(p.pid, 'SIGKILL');
    killQuiet(-inst.group, 'SIGKILL');
    for (const p of procs) if (alive(p)) killQuiet(p.pid, 'SIGKILL');
    if (!inst.keep()) rmQuiet(inst.dir);
  }
  live.clear();
}
// ---------------------------------------------------------------------------------------------

// A TCP connect alone is not enough: the listener socket is bound (and the kernel completes
// handshakes into the backlog) a few hundred ms before ejabberd has finished starting and
// accepts. Ready = the server answers a stream header with its stream features.
function streamReady(port: number, host: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let buf = '';
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      clearTimeout(t);
      if (ok) s.end('</stream:stream>');
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => {
      s.write(
        `<?xml version='1.0'?><stream:stream to='${host}' xmlns='jabber:client' ` +
          `xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`,
      );
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      if (buf.includes('</stream:features>')) done(true);
      else if (buf.length > 65536) done(false);
    });
    s.once('error', () => done(false));
    s.once('close', () => done(false));
  });
}

function yamlString(s: string): string {
  // A JSON string literal is a valid YAML double-quoted scalar.
  return JSON.stringify(s);
}

function checkHost(host: string): void {
  if (!/^[a-z0-9.-]+$/i.test(host)) throw new Error(`startEjabberd: unsupported host ${JSON.stringify(host)}`);
}

function tail(file: string, lines: number): string {
  try {
    const all = readFileSync(file, 'utf8').split('\n');
    return all.slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}

export async function startEjabberd(opts: EjabberdOptions): Promise<Ejabberd> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      lastErr = e;
      // Only a port race (another process took the port we picked) is worth a retry.
      if (!(e instanceof Error && /eaddrinuse/i.test(e.message))) throw e;
    }
  }
  throw lastErr;
}

async function startOnce(opts: EjabberdOptions): Promise<Ejabberd> {
  if (!existsSync(EJABBERDCTL)) throw new Error(`${EJABBERDCTL} not found: apt-get install -y ejabberd`);
  const host = opts.host ?? 'localhost';
  checkHost(host);
  const poolSize = opts.poolSize ?? 1;
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 256) throw new Error('poolSize must be 1..256');
  if (/[\n\r]/.test(opts.extauthProgram)) throw new Error('extauthProgram must be one line');
  const startTimeoutMs = opts.startTimeoutMs ?? 60000;

  // No spaces allowed: ejabberdctl passes -mnesia dir "$SPOOL_DIR" unquoted through word splitting.
  const dir = mkdtempSync(join(tmpdir(), 'gh-ejabberd-'));
  if (/\s/.test(dir)) throw new Error(`temp dir must not contain whitespace: ${dir}`);
  const configDir = join(dir, 'etc');
  const spoolDir = join(dir, 'spool');
  const logDir = join(dir, 'log');
  for (const d of [configDir, spoolDir, logDir]) mkdirSync(d, { mode: 0o700 });

  const port = await freePort();
  let distPort = await freePort();
  while (distPort === port) distPort = await freePort();
  const node = `gh${randomBytes(5).toString('hex')}@localhost`;
  const cookie = randomBytes(16).toString('hex');

  writeFileSync(
    join(configDir, 'ejabberd.yml'),
    [
      '# generated by test/interop/ejabberd.ts',
      `hosts: [${yamlString(host)}]`,
      `loglevel: ${opts.loglevel ?? 'info'}`,
      'log_rotate_count: 0',
      'auth_method: [external]',
      `extauth_program: ${yamlString(opts.extauthProgram)}`,
      `extauth_pool_size: ${poolSize}`,
      'auth_use_cache: false',
      'acme:',
      '  auto: false',
      'listen:',
      `  - port: ${port}`,
      '    ip: "127.0.0.1"',
      '    module: ejabberd_c2s',
      '    starttls: false',
      '    starttls_required: false',
      '    backlog: 1024',
      '    max_stanza_size: 262144',
      'modules:',
      '  mod_admin_extra: {}',
      opts.extraConfig ?? '',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  // Sourced by ejabberdctl (bash) AFTER its root check, so EXEC_CMD here wins over "su ejabberd".
  writeFileSync(
    join(configDir, 'ejabberdctl.cfg'),
    [
      'EXEC_CMD=as_current_user',
      `ERLANG_NODE=${node}`,
      `ERL_DIST_PORT=${distPort}`,
      `ERL_OPTIONS="-setcookie ${cookie} -kernel inet_dist_use_interface {127,0,0,1} -env ERL_CRASH_DUMP_BYTES 0${opts.erlOptions === undefined ? '' : ` ${opts.erlOptions}`}"`,
      'EJABBERD_BYPASS_WARNINGS=true',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  writeFileSync(join(configDir, 'inetrc'), '{lookup,["file","native"]}.\n{host,{127,0,0,1},["localhost"]}.\n');

  const baseArgs = ['--config-dir', configDir, '--spool', spoolDir, '--logs', logDir];
  // C.UTF-8 so that ejabberdctl arguments (passwords) reach the node as UTF-8, not latin-1 mojibake.
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', ...(opts.env ?? {}) };
  delete env.ERL_EPMD_ADDRESS;
  delete env.ERL_EPMD_PORT;

  const consoleLog = join(logDir, 'console.log');
  let consoleBuf = '';
  const t0 = performance.now();
  const child: ChildProcess = spawn(EJABBERDCTL, [...baseArgs, 'foreground'], {
    cwd: spoolDir,
    env,
    detached: true, // own process group: bash ejabberdctl + beam.smp
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const group = child.pid!;
  const onData = (b: Buffer) => {
    consoleBuf += b.toString('utf8');
    if (consoleBuf.length > 1 << 20) consoleBuf = consoleBuf.slice(-(1 << 19));
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited = false;
  let exitInfo = '';
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, sig) => {
      exited = true;
      exitInfo = `exit code ${code} signal ${sig}`;
      resolve();
    });
  });

  let keep = opts.keepDir === true || process.env.GATEHOUSE_KEEP_EJABBERD === '1';
  let tracked: ProcId[] = [];
  const track = () => {
    const now = descendants(group);
    const seen = new Set(tracked.map((p) => `${p.pid}/${p.start}`));
    for (const p of now) if (!seen.has(`${p.pid}/${p.start}`)) tracked.push(p);
    tracked = tracked.filter(alive);
    return tracked;
  };
  const inst: LiveInstance = { group, tracked: track, dir, keep: () => keep };
  killOnTestExit(killAllLive);
  live.add(inst);

  const logTail = (lines = 40): string => {
    const parts: string[] = [];
    const main = tail(join(logDir, 'ejabberd.log'), lines);
    if (main) parts.push(`--- ${join(logDir, 'ejabberd.log')}\n${main}`);
    const err = tail(join(logDir, 'error.log'), lines);
    if (err) parts.push(`--- ${join(logDir, 'error.log')}\n${err}`);
    if (consoleBuf) parts.push(`--- console\n${consoleBuf.split('\n').slice(-lines - 1).join('\n')}`);
    return parts.join('\n');
  };

  let stopped = false;
  // ejabberd shuts down in ~1 s; longer only when an extauth worker is stuck waiting for a
  // reply (supervisor shutdown timeout 5 s). The spool is throwaway, so SIGKILL after this.
  const graceMs = opts.stopGraceMs ?? 3000;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const procs = track();
    const beams = procs.filter((p) => {
      try {
        return readFileSync(`/proc/${p.pid}/comm`, 'utf8').startsWith('beam');
      } catch {
        return false;
      }
    });
    // beam handles SIGTERM as init:stop() (graceful, ~1 s). Bash ejabberdctl also gets it.
    if (!exited) killQuiet(-group, 'SIGTERM');
    for (const b of beams) killQuiet(b.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (beams.some(alive) || !exited)) await sleep(25);
    if (beams.some(alive) || !exited) {
      killQuiet(-group, 'SIGKILL');
      for (const b of beams) if (alive(b)) killQuiet(b.pid, 'SIGKILL');
    }
    // Port programs get EOF on stdin when the VM exits; give them a moment, then SIGKILL.
    const d2 = Date.now() + 1000;
    while (Date.now() < d2 && procs.some(alive)) await sleep(25);
    for (const p of procs) if (alive(p)) killQuiet(p.pid, 'SIGKILL');
    await Promise.race([exitPromise, sleep(2000)]);
    live.delete(inst);
    try {
      writeFileSync(consoleLog, consoleBuf);
    } catch {
      /* ignore */
    }
    if (!keep) {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  // Wait until c2s answers a stream header (after ejabberd_app has started: auth + extauth pool).
  const deadline = t0 + startTimeoutMs;
  let ready = false;
  while (performance.now() < deadline) {
    if (exited) break;
    if (await streamReady(port, host, 1000)) {
      ready = true;
      break;
    }
    await sleep(30);
  }
  const startMs = Math.round(performance.now() - t0);
  if (!ready) {
    const why = exited
      ? `ejabberd exited during start-up (${exitInfo})`
      : `c2s on 127.0.0.1:${port} not answering a stream header after ${startTimeoutMs} ms`;
    const logs = logTail(60);
    keep = true; // keep logs for post-mortem
    await stop();
    throw new Error(`startEjabberd: ${why}; logs kept in ${logDir}\n${logs}`);
  }
  track();

  const ctl = (args: string[], o?: { timeoutMs?: number }): Promise<CtlResult> =>
    new Promise((resolve, reject) => {
      if (stopped) return reject(new Error(`ejabberd ${node} was stopped`));
      const c = spawn(EJABBERDCTL, [...baseArgs, ...args], {
        cwd: spoolDir,
        env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      c.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      c.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => {
        killQuiet(-c.pid!, 'SIGKILL');
      }, o?.timeoutMs ?? 30000);
      c.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      c.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });

  return {
    port,
    host,
    node,
    distPort,
    dir,
    configDir,
    spoolDir,
    logDir,
    startMs,
    ctl,
    logTail,
    childPids: () =>
      track()
        .filter((p) => !readCommIs(p.pid, 'beam') && !readCommIs(p.pid, 'erl_child_setup'))
        .map((p) => p.pid),
    stop,
  };
}

function readCommIs(pid: number, prefix: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith(prefix);
  } catch {
    return false;
  }
}

/** True if ejabberdctl and the Erlang runtime are installed (to skip interop tests elsewhere). */
export function ejabberdAvailable(): boolean {
  return existsSync(EJABBERDCTL) && existsSync('/usr/bin/erl');
}
