// Private, loopback-only Prosody 0.12 (Debian `prosody` + `prosody-modules`) authenticating
// through a Dovecot-auth-protocol server (mod_auth_dovecot), for interop tests.
//
// Each instance gets its own temp dir (config, data, certs, pid file, log), a free c2s port on
// 127.0.0.1 picked at run time, no s2s, no HTTP, no components. Prosody runs in the foreground
// (`prosody -F --config FILE`) as a child process in its own process group, as the current user
// (root in CI: the `prosody` binary itself never switches user; only prosodyctl does, and
// `run_as_root = true` is set for that case anyway).
//
// The Dovecot auth server (Gatehouse, or test/interop/fake_dovecot_auth.py) MUST be listening
// before startProsody(): mod_auth_dovecot connects once while loading, and if that fails the
// host silently ends up with no SASL mechanism at all. startProsody() detects that and throws.
// See test/interop/PROSODY_POSTFIX_NOTES.md for the protocol lines Prosody sends and its quirks.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net.js';
import { killOnTestExit, killQuiet, rmQuiet, sleep } from '../helpers/cleanup.js';

export interface ProsodyOptions {
  /** Unix socket of the Dovecot auth server (dovecot_auth_socket). */
  dovecotSocket?: string;
  /** TCP port of the Dovecot auth server (dovecot_auth_port); takes precedence over the socket. */
  dovecotPort?: number;
  /** dovecot_auth_host for dovecotPort (default "127.0.0.1"; loopback only). */
  dovecotHost?: string;
  /** XMPP virtual host (default "localhost"). */
  host?: string;
  /**
   * auth_append_host = true: Prosody then does SASL PLAIN itself (LOGIN is no longer offered)
   * and sends "\0user@host\0password" (host = `realm` or the VirtualHost); OK means success and
   * the user= field is ignored. Default false: the client's SASL exchange is relayed verbatim.
   */
  appendHost?: boolean;
  /**
   * Also load mod_legacyauth (XEP-0078). WARNING: with mod_auth_dovecot in its default mode
   * (appendHost false) this accepts ANY password (test_password returns the truthy string
   * "failure"); only enable it to demonstrate that.
   */
  legacyAuth?: boolean;
  /** Prosody log level for the log file (default "debug": shows the lines the server sends). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Extra Lua appended to the global section (before the VirtualHost line). */
  extraConfig?: string;
  /** Bound on the wait for c2s to offer SASL PLAIN (default 15000 ms). */
  startTimeoutMs?: number;
  /** SIGTERM grace before SIGKILL in stop() (default 3000 ms). */
  stopGraceMs?: number;
  /** Keep the temp dir after stop() (default false; env GATEHOUSE_KEEP_PROSODY=1 also keeps it). */
  keepDir?: boolean;
}

export interface Prosody {
  /** c2s port on 127.0.0.1 (plain TCP; SASL PLAIN allowed without TLS). */
  port: number;
  /** XMPP virtual host. */
  host: string;
  dir: string;
  configFile: string;
  logFile: string;
  /** Prosody's PID (the lua5.4 process; also its process group). */
  pid: number;
  /** Milliseconds from spawn until c2s offered SASL PLAIN in its stream features. */
  startMs: number;
  /** SASL mechanisms offered on c2s after start (relayed from the Dovecot MECH lines). */
  mechanisms: string[];
  /** Last lines of the log file (plus console output, if any). */
  logTail(lines?: number): string;
  /** SIGTERM (clean shutdown), SIGKILL after stopGraceMs; removes the dir. Idempotent. */
  stop(): Promise<void>;
}

const PROSODY_BIN = process.env.GATEHOUSE_PROSODY_BIN ?? '/usr/bin/prosody';

/**
 * Where mod_auth_dovecot.lua (+ sasl_dovecot.lib.lua) live. Debian's prosody-modules 0.0~hg20230223
 * ships it one level deeper than every other module
 * (/usr/lib/prosody/modules/mod_auth_dovecot/auth_dovecot/mod_auth_dovecot.lua), where Prosody's
 * loader does not look, so this directory is put in plugin_paths.
 */
export function authDovecotModuleDir(): string {
  const candidates = [
    process.env.GATEHOUSE_PROSODY_AUTH_DOVECOT_DIR,
    '/usr/lib/prosody/modules/mod_auth_dovecot/auth_dovecot',
    '/usr/lib/prosody/modules/mod_auth_dovecot',
    '/usr/local/lib/prosody/modules/mod_auth_dovecot',
  ];
  for (const c of candidates) {
    if (c && existsSync(join(c, 'mod_auth_dovecot.lua')) && existsSync(join(c, 'sasl_dovecot.lib.lua'))) return c;
  }
  throw new Error(
    'mod_auth_dovecot.lua not found: apt-get install -y prosody prosody-modules ' +
      '(or set GATEHOUSE_PROSODY_AUTH_DOVECOT_DIR)',
  );
}

// ---------------------------------------------------------------------------------------------
// process bookkeeping

interface LiveInstance {
  pid: number;
  dir: string;
  keep: boolean;
}
const live = new Set<LiveInstance>();
function killAllLive(): void {
  for (const inst of live) {
    killQuiet(-inst.pid, 'SIGKILL');
    killQuiet(inst.pid, 'SIGKILL');
    if (!inst.keep) rmQuiet(inst.dir);
  }
  live.clear();
}

// ---------------------------------------------------------------------------------------------

/**
 * Opens a c2s stream and returns the SASL mechanisms in the stream features ([] when features
 * arrive without <mechanisms/>), or null if nothing usable arrived within timeoutMs.
 * Talks to Prosody only: offering mechanisms sends no line to the Dovecot auth server.
 */
function probeMechanisms(port: number, host: string, timeoutMs: number): Promise<string[] | null> {
  return new Promise((resolve) => {
    let buf = '';
    let settled = false;
    const sock = connect({ host: '127.0.0.1', port });
    const finish = (v: string[] | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      sock.write(
        `<?xml version='1.0'?><stream:stream to='${host}' xmlns='jabber:client' ` +
          `xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`,
      );
    });
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > 65536) return finish(null);
      const end = buf.indexOf('</stream:features>');
      if (end < 0) {
        if (/<stream:features\s*\/>/.test(buf)) finish([]);
        return;
      }
      const features = buf.slice(0, end);
      const mechs = [...features.matchAll(/<mechanism>([^<]*)<\/mechanism>/g)].map((m) => m[1] ?? '');
      sock.write('</stream:stream>');
      finish(mechs);
    });
    sock.on('error', () => finish(null));
    sock.on('close', () => finish(null));
  });
}

function luaString(s: string): string {
  return JSON.stringify(s); // a JSON string literal is a valid Lua string literal for our inputs
}

function tailOf(file: string, lines: number): string {
  try {
    const all = readFileSync(file, 'utf8').split('\n');
    return all.slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts a private Prosody. Resolves once c2s on 127.0.0.1 offers SASL PLAIN (i.e. mod_auth_dovecot
 * loaded and read the server's MECH list). Rejects with the log tail on any failure, after killing
 * whatever it started.
 */
export async function startProsody(opts: ProsodyOptions = {}): Promise<Prosody> {
  if (opts.dovecotPort === undefined && opts.dovecotSocket === undefined) {
    throw new Error('startProsody: dovecotSocket or dovecotPort is required');
  }
  const dovecotHost = opts.dovecotHost ?? '127.0.0.1';
  if (opts.dovecotPort !== undefined && !/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(dovecotHost)) {
    throw new Error('startProsody: dovecotHost must be a loopback address');
  }
  if (!existsSync(PROSODY_BIN)) {
    throw new Error(`${PROSODY_BIN} not found: apt-get install -y prosody prosody-modules`);
  }
  const moduleDir = authDovecotModuleDir();
  const host = opts.host ?? 'localhost';
  const startTimeoutMs = Math.min(Math.max(opts.startTimeoutMs ?? 60000, 1000), 120000);
  const stopGraceMs = Math.min(Math.max(opts.stopGraceMs ?? 3000, 100), 30000);
  const keep = opts.keepDir === true || process.env.GATEHOUSE_KEEP_PROSODY === '1';

  let lastErr: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await startOnce(opts, { host, port, moduleDir, dovecotHost, startTimeoutMs, stopGraceMs, keep });
    } catch (e) {
      lastErr = e as Error;
      // Only a lost race for the port is worth another try.
      if (!/Failed to open server port|Address already in use/i.test(lastErr.message)) throw lastErr;
    }
  }
  throw lastErr ?? new Error('startProsody failed');
}

interface Resolved {
  host: string;
  port: number;
  moduleDir: string;
  dovecotHost: string;
  startTimeoutMs: number;
  stopGraceMs: number;
  keep: boolean;
}

async function startOnce(opts: ProsodyOptions, r: Resolved): Promise<Prosody> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-prosody-'));
  const dataDir = join(dir, 'data');
  const certsDir = join(dir, 'certs');
  mkdirSync(dataDir);
  mkdirSync(certsDir);
  const configFile = join(dir, 'prosody.cfg.lua');
  const logFile = join(dir, 'prosody.log');
  const consoleFile = join(dir, 'console.log');
  const pidFile = join(dir, 'prosody.pid');

  const modules = ['saslauth', 'disco', 'ping', 'roster'];
  if (opts.legacyAuth) modules.push('legacyauth');
  const authLines =
    opts.dovecotPort !== undefined
      ? [`dovecot_auth_host = ${luaString(r.dovecotHost)}`, `dovecot_auth_port = ${Math.trunc(opts.dovecotPort)}`]
      : [`dovecot_auth_socket = ${luaString(opts.dovecotSocket ?? '')}`];
  const config = [
    '-- Generated by test/interop/prosody.ts: private loopback-only test instance.',
    'run_as_root = true',
    `pidfile = ${luaString(pidFile)}`,
    `data_path = ${luaString(dataDir)}`,
    `certificates = ${luaString(certsDir)}`,
    `plugin_paths = { ${luaString(r.moduleDir)} }`,
    `log = { { levels = { min = ${luaString(opts.logLevel ?? 'debug')} }, to = "file", filename = ${luaString(logFile)} } }`,
    'interfaces = { "127.0.0.1" }',
    'local_interfaces = { "127.0.0.1" }',
    `c2s_ports = { ${r.port} }`,
    'c2s_interfaces = { "127.0.0.1" }',
    'c2s_direct_tls_ports = {}',
    'legacy_ssl_ports = {}',
    's2s_ports = {}',
    'http_ports = {}',
    'https_ports = {}',
    'component_ports = {}',
    `modules_enabled = { ${modules.map(luaString).join('; ')} }`,
    'modules_disabled = { "s2s" }',
    'c2s_require_encryption = false',
    's2s_require_encryption = false',
    'allow_unencrypted_plain_auth = true',
    'allow_registration = false',
    'storage = "internal"',
    'authentication = "dovecot"',
    ...authLines,
    `auth_append_host = ${opts.appendHost ? 'true' : 'false'}`,
    opts.extraConfig ?? '',
    `VirtualHost ${luaString(r.host)}`,
    '',
  ].join('\n');
  writeFileSync(configFile, config);

  const consoleFd = openSync(consoleFile, 'a');
  const t0 = Date.now();
  let child: ChildProcess;
  try {
    child = spawn(PROSODY_BIN, ['-F', '--config', configFile], {
      cwd: dir,
      detached: true, // own process group
      stdio: ['ignore', consoleFd, consoleFd],
      env: { ...process.env, HOME: dataDir },
    });
  } finally {
    closeSync(consoleFd);
  }
  const logTail = (lines = 40) => {
    const con = tailOf(consoleFile, 10).trim();
    return tailOf(logFile, lines) + (con ? `\n--- console ---\n${con}` : '');
  };
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      exited = { code: null, signal: null };
      writeFileSync(consoleFile, `spawn error: ${err.message}\n`, { flag: 'a' });
      resolve();
    });
  });
  const pid = child.pid ?? -1;
  const inst: LiveInstance = { pid, dir, keep: r.keep };
  if (pid > 0) {
    live.add(inst);
    killOnTestExit(killAllLive);
  }

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (pid > 0 && exited === null) {
      killQuiet(pid, 'SIGTERM');
      await Promise.race([exitPromise, sleep(r.stopGraceMs)]);
      if (exited === null) {
        killQuiet(-pid, 'SIGKILL');
        killQuiet(pid, 'SIGKILL');
        await Promise.race([exitPromise, sleep(2000)]);
      }
    }
    killQuiet(-pid, 'SIGKILL'); // anything left in the group (there should be nothing)
    live.delete(inst);
    if (!r.keep) rmQuiet(dir);
  };

  const fail = async (msg: string): Promise<never> => {
    const tail = logTail(60);
    await stop();
    throw new Error(`${msg}\n--- prosody log tail (${logFile}) ---\n${tail}`);
  };

  // Wait until c2s answers a stream header with features, bounded in time and attempts.
  const deadline = t0 + r.startTimeoutMs;
  let mechs: string[] | null = null;
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    if (exited !== null) {
      const ex = exited as { code: number | null; signal: NodeJS.Signals | null };
      return fail(`prosody exited during start-up (code ${ex.code}, signal ${ex.signal})`);
    }
    const log = tailOf(logFile, 400);
    if (/Failed to open server port|Address already in use/.test(log)) {
      return fail(`prosody could not bind 127.0.0.1:${r.port}: Failed to open server port`);
    }
    mechs = await probeMechanisms(r.port, r.host, Math.max(100, Math.min(2000, deadline - Date.now())));
    if (mechs !== null) break;
    if (/Error initializing module 'auth_dovecot'|No available SASL mechanisms/.test(tailOf(logFile, 400))) {
      mechs = [];
      break;
    }
    await sleep(50);
  }
  if (mechs === null) return fail(`prosody c2s on 127.0.0.1:${r.port} not ready after ${r.startTimeoutMs} ms`);
  const log = tailOf(logFile, 400);
  if (/Error initializing module 'auth_dovecot'|Dovecot connection failure/.test(log) || !mechs.includes('PLAIN')) {
    return fail(
      `prosody started but mod_auth_dovecot is not usable (mechanisms offered: [${mechs.join(', ')}]); ` +
        'is the Dovecot auth server listening before Prosody starts?',
    );
  }
  const startMs = Date.now() - t0;
  return { port: r.port, host: r.host, dir, configFile, logFile, pid, startMs, mechanisms: mechs, logTail, stop };
}
