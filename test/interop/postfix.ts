// Private, loopback-only Postfix 3.7 (Debian `postfix`) whose smtpd authenticates SMTP AUTH
// through a Dovecot-auth-protocol server (smtpd_sasl_type = dovecot), for interop tests.
//
// Each instance gets its own temp dir holding config_directory (main.cf + a minimal master.cf,
// every service with chroot = n), queue_directory, data_directory (owned by `postfix`, as
// master insists) and a maillog file (postlogd; there is no syslog here). smtpd listens on a
// free port of 127.0.0.1 only; nothing is ever delivered (mydestination empty, relay only for
// SASL-authenticated clients, and tests stop after AUTH). Started with `postfix -c DIR start`
// (master -w: returns once the listener is bound), stopped with `postfix -c DIR stop` plus a
// bounded wait for master and its children, SIGKILL of the process group as a last resort.
//
// smtpd runs as the `postfix` user: a Unix-socket auth server must let that user connect
// (socket mode 0666, or group postfix + 0660, and every parent dir searchable), or smtpd
// answers 454. smtpd_sasl_path accepts "inet:127.0.0.1:PORT" for a TCP server.
// See test/interop/PROSODY_POSTFIX_NOTES.md for the lines smtpd sends and the reply codes.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net.js';
import { killOnTestExit, killQuiet, rmQuiet, sleep } from '../helpers/cleanup.js';

export interface PostfixOptions {
  /** smtpd_sasl_path: an absolute Unix socket path, "unix:/path" or "inet:127.0.0.1:PORT". */
  saslPath: string;
  /**
   * Log smtpd verbosely (`smtpd -v`): the maillog then shows every Dovecot line received
   * ("xsasl_dovecot_handle_reply: auth reply: ...") but ALSO the client's base64 AUTH data,
   * i.e. passwords. Default false.
   */
  verbose?: boolean;
  /** Extra main.cf parameters (override the generated ones). */
  extraMain?: Record<string, string>;
  /** Bound on `postfix start` plus the first 220 banner (default 20000 ms). */
  startTimeoutMs?: number;
  /** Bound on the wait for master and its children after `postfix stop` (default 5000 ms). */
  stopGraceMs?: number;
  /** Keep the temp dir after stop() (default false; env GATEHOUSE_KEEP_POSTFIX=1 also keeps it). */
  keepDir?: boolean;
}

export interface Postfix {
  /** smtpd port on 127.0.0.1 (no TLS; AUTH PLAIN and LOGIN offered when the auth server is up). */
  port: number;
  dir: string;
  configDir: string;
  queueDir: string;
  maillog: string;
  /** PID of the Postfix master daemon. */
  masterPid: number;
  /** Milliseconds from `postfix start` until smtpd sent its 220 banner. */
  startMs: number;
  /** Last lines of the maillog file. */
  logTail(lines?: number): string;
  /** `postfix stop`, then waits for master and children (SIGKILL after stopGraceMs); removes the dir. Idempotent. */
  stop(): Promise<void>;
}

const POSTFIX_BIN = process.env.GATEHOUSE_POSTFIX_BIN ?? '/usr/sbin/postfix';

// ---------------------------------------------------------------------------------------------
// process bookkeeping via /proc (Linux). The master daemon is a session and process-group leader;
// its children (qmgr, postlogd, smtpd, anvil, ...) stay in its process group.

interface ProcInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  zombie: boolean;
}

function procInfo(pid: number): ProcInfo | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(rest[1]), pgrp: Number(rest[2]), zombie: rest[0] === 'Z' };
  } catch {
    return null;
  }
}

/** Live (non-zombie) processes whose process group is pgrp. */
function groupMembers(pgrp: number): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const info = procInfo(Number(e));
    if (info && !info.zombie && info.pgrp === pgrp) out.push(info.pid);
  }
  return out;
}

interface LiveInstance {
  masterPid: number;
  dir: string;
  keep: boolean;
}
const live = new Set<LiveInstance>();
function killAllLive(): void {
  for (const inst of live) {
    if (inst.masterPid > 0) {
      for (const p of groupMembers(inst.masterPid)) killQuiet(p, 'SIGKILL');
      killQuiet(-inst.masterPid, 'SIGKILL');
    }
    if (!inst.keep) rmQuiet(inst.dir);
  }
  live.clear();
}
// ---------------------------------------------------------------------------------------------

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
      resolve({ code, stdout, stderr, ...(err && code === null ? { error: err.message } : {}) });
    });
  });
}

/** uid of a user from /etc/passwd (no getpwnam in Node). */
function uidOf(user: string): number | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user && f[2] !== undefined) return Number(f[2]);
    }
  } catch {
    /* ignore */
  }
  return null;
}

function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}

/** Waits for the 220 banner on a fresh connection, then QUITs. Talks to smtpd only (no AUTH). */
function bannerReady(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const sock = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (ok) sock.end('QUIT\r\n');
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      if (/^220 .*\r\n/m.test(buf)) finish(true);
      else if (buf.length > 4096 || /^[45]\d\d /m.test(buf)) finish(false);
    });
    sock.on('error', () => finish(false));
    sock.on('close', () => finish(false));
  });
}

function masterCf(port: number, verbose: boolean): string {
  const v = verbose ? ' -v' : '';
  // service type private unpriv chroot wakeup maxproc command: chroot = n everywhere.
  return [
    '# Generated by test/interop/postfix.ts: private loopback-only test instance.',
    `127.0.0.1:${port} inet  n       -       n       -       -       smtpd${v}`,
    'cleanup   unix  n       -       n       -       0       cleanup',
    'qmgr      unix  n       -       n       300     1       qmgr',
    'rewrite   unix  -       -       n       -       -       trivial-rewrite',
    'bounce    unix  -       -       n       -       0       bounce',
    'defer     unix  -       -       n       -       0       bounce',
    'trace     unix  -       -       n       -       0       bounce',
    'verify    unix  -       -       n       -       1       verify',
    'proxymap  unix  -       -       n       -       -       proxymap',
    'error     unix  -       -       n       -       -       error',
    'retry     unix  -       -       n       -       -       error',
    'discard   unix  -       -       n       -       -       discard',
    'anvil     unix  -       -       n       -       1       anvil',
    'scache    unix  -       -       n       -       1       scache',
    'postlog   unix-dgram n  -       n       -       1       postlogd',
    '',
  ].join('\n');
}

function mainCf(dir: string, saslPath: string, extra: Record<string, string>): string {
  const p: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: join(dir, 'spool'),
    data_directory: join(dir, 'data'),
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    myhostname: 'gatehouse-test.localhost',
    mydomain: 'localhost',
    mydestination: '',
    relay_domains: '',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    alias_maps: '',
    alias_database: '',
    local_recipient_maps: '',
    biff: 'no',
    // No syslog here: log through postlogd to a file (needs the postlog service in master.cf
    // and a matching maillog_file_prefixes).
    maillog_file: join(dir, 'maillog'),
    maillog_file_prefixes: dir,
    smtpd_banner: '$myhostname ESMTP gatehouse-test',
    smtpd_sasl_auth_enable: 'yes',
    smtpd_sasl_type: 'dovecot',
    smtpd_sasl_path: saslPath,
    smtpd_sasl_security_options: 'noanonymous',
    broken_sasl_auth_clients: 'yes',
    smtpd_tls_security_level: 'none',
    smtpd_tls_auth_only: 'no',
    smtpd_relay_restrictions: 'permit_sasl_authenticated, reject',
    smtpd_recipient_restrictions: 'permit_sasl_authenticated, reject',
    // Load tests: no per-client connection cap, no tarpit after errors.
    smtpd_client_connection_count_limit: '0',
    smtpd_error_sleep_time: '0',
    smtpd_soft_error_limit: '1000',
    smtpd_hard_error_limit: '1000',
    default_process_limit: '50',
    // smtpd exits ("fatal: no SASL authentication mechanisms") when a new session finds the auth
    // server unreachable, and master then refuses to start smtpd for service_throttle_time
    // (default 60s). Tests that restart the auth server want Postfix back within a second.
    service_throttle_time: '1s',
    ...extra,
  };
  for (const [k, v] of Object.entries(p)) {
    if (!/^[a-z0-9_]+$/.test(k) || /[\r\n]/.test(v)) throw new Error(`bad main.cf parameter ${k}`);
  }
  return '# Generated by test/interop/postfix.ts\n' + Object.entries(p).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
}

/**
 * Starts a private Postfix. Resolves once smtpd on 127.0.0.1 sent its 220 banner. Rejects with
 * the maillog tail on any failure, after stopping whatever it started.
 */
export async function startPostfix(opts: PostfixOptions): Promise<Postfix> {
  if (!opts || typeof opts.saslPath !== 'string' || opts.saslPath === '') {
    throw new Error('startPostfix: saslPath is required');
  }
  const inet = /^inet:(.*):(\d+)$/.exec(opts.saslPath);
  if (inet && !/^(127\.\d+\.\d+\.\d+|\[?::1\]?|localhost)$/.test(inet[1] ?? '')) {
    throw new Error('startPostfix: an inet: saslPath must be on loopback');
  }
  if (!existsSync(POSTFIX_BIN)) throw new Error(`${POSTFIX_BIN} not found: apt-get install -y postfix`);
  const postfixUid = uidOf('postfix');
  if (postfixUid === null) throw new Error('no "postfix" user: apt-get install -y postfix');
  const startTimeoutMs = Math.min(Math.max(opts.startTimeoutMs ?? 60000, 2000), 120000);
  const stopGraceMs = Math.min(Math.max(opts.stopGraceMs ?? 5000, 200), 30000);
  const keep = opts.keepDir === true || process.env.GATEHOUSE_KEEP_POSTFIX === '1';

  let lastErr: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await startOnce(opts, port, postfixUid, startTimeoutMs, stopGraceMs, keep);
    } catch (e) {
      lastErr = e as Error;
      if (!/Address already in use/i.test(lastErr.message)) throw lastErr;
    }
  }
  throw lastErr ?? new Error('startPostfix failed');
}

async function startOnce(
  opts: PostfixOptions,
  port: number,
  postfixUid: number,
  startTimeoutMs: number,
  stopGraceMs: number,
  keep: boolean,
): Promise<Postfix> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-postfix-'));
  chmodSync(dir, 0o755); // daemons run as "postfix" and must reach the queue dir
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'spool');
  const dataDir = join(dir, 'data');
  const maillog = join(dir, 'maillog');
  mkdirSync(configDir);
  mkdirSync(queueDir, { mode: 0o755 });
  mkdirSync(dataDir, { mode: 0o700 });
  chownSync(dataDir, postfixUid, -1); // master: "open lock file .../master.lock: Permission denied" otherwise
  writeFileSync(join(configDir, 'main.cf'), mainCf(dir, opts.saslPath, opts.extraMain ?? {}));
  writeFileSync(join(configDir, 'master.cf'), masterCf(port, opts.verbose === true));
  // Postfix re-reads a "hot" config file (mtime within the last ~2 s) every 300 ms until it has
  // settled (dict_load_file), which made every fresh start take 2.2 s instead of 0.3 s.
  const past = new Date(Date.now() - 60_000);
  utimesSync(join(configDir, 'main.cf'), past, past);
  utimesSync(join(configDir, 'master.cf'), past, past);

  const inst: LiveInstance = { masterPid: -1, dir, keep };
  live.add(inst);
  killOnTestExit(killAllLive);
  const logTail = (lines = 40) => tailOf(maillog, lines);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const pid = inst.masterPid > 0 ? inst.masterPid : readMasterPid(queueDir);
    if (pid > 0 && procInfo(pid) && !procInfo(pid)?.zombie) {
      await run(POSTFIX_BIN, ['-c', configDir, 'stop'], 10000);
    }
    if (pid > 0) {
      const deadline = Date.now() + stopGraceMs;
      for (let i = 0; i < 500 && Date.now() < deadline && groupMembers(pid).length > 0; i++) await sleep(20);
      const left = groupMembers(pid);
      for (const p of left) killQuiet(p, 'SIGKILL');
      killQuiet(-pid, 'SIGKILL');
      for (let i = 0; i < 50 && groupMembers(pid).length > 0; i++) await sleep(20);
    }
    live.delete(inst);
    if (!keep) rmQuiet(dir);
  };
  const fail = async (msg: string, extra = ''): Promise<never> => {
    const tail = logTail(40);
    await stop();
    throw new Error(`${msg}${extra ? `\n${extra}` : ''}\n--- postfix maillog tail (${maillog}) ---\n${tail}`);
  };

  const t0 = Date.now();
  const res = await run(POSTFIX_BIN, ['-c', configDir, 'start'], startTimeoutMs);
  inst.masterPid = readMasterPid(queueDir);
  if (res.code !== 0) {
    // The postfix command writes errors to stderr only when it is a terminal; otherwise they go
    // to syslog (absent here) or, once main.cf is read, to the maillog file.
    const out = [res.stdout, res.stderr, res.error ?? ''].join('\n').trim();
    const diag = await diagnose(configDir);
    const already = /Address already in use/.test(logTail(20)) ? ' (Address already in use)' : '';
    return fail(`postfix -c ${configDir} start failed (exit ${res.code})${already}`, [out, diag].filter(Boolean).join('\n'));
  }
  if (inst.masterPid <= 0) return fail('postfix started but no master.pid');
  const deadline = t0 + startTimeoutMs;
  let ready = false;
  for (let i = 0; i < 500 && Date.now() < deadline && !ready; i++) {
    ready = await bannerReady(port, Math.max(100, Math.min(3000, deadline - Date.now())));
    if (!ready) {
      // smtpd reads the MECH list when a session starts, before the banner: no auth server, no smtpd.
      if (/no SASL authentication mechanisms|SASL: Connect to .* failed/.test(logTail(50))) {
        return fail(
          `postfix smtpd cannot reach the Dovecot auth server at ${opts.saslPath} ` +
            '(it must listen before startPostfix(), and a Unix socket must be connectable by the "postfix" user)',
        );
      }
      await sleep(50);
    }
  }
  if (!ready) return fail(`postfix smtpd on 127.0.0.1:${port} sent no 220 banner within ${startTimeoutMs} ms`);
  const startMs = Date.now() - t0;
  return { port, dir, configDir, queueDir, maillog, masterPid: inst.masterPid, startMs, logTail, stop };
}

function readMasterPid(queueDir: string): number {
  try {
    const n = Number(readFileSync(join(queueDir, 'pid', 'master.pid'), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : -1;
  } catch {
    return -1;
  }
}

/** `postfix check` under `script` (a pty) so that its stderr messages become visible. */
async function diagnose(configDir: string): Promise<string> {
  if (!existsSync('/usr/bin/script')) return '';
  const r = await run('/usr/bin/script', ['-qec', `${POSTFIX_BIN} -c ${configDir} check`, '/dev/null'], 10000);
  const text = (r.stdout + r.stderr).trim();
  return text ? `postfix check: ${text}` : '';
}

// ---------------------------------------------------------------------------------------------
// SMTP AUTH client (Node built-ins only).

export interface SmtpAuthOptions {
  port: number;
  mechanism: 'PLAIN' | 'LOGIN';
  user: string;
  password: string;
  /** authzid for PLAIN (default empty). */
  authzid?: string;
  /**
   * Send the first SASL message with the AUTH command (RFC 4954 initial response). Default: true
   * for PLAIN (like swaks), false for LOGIN (like swaks; Python's smtplib sends the username as
   * an initial response).
   */
  initialResponse?: boolean;
  /** Address (loopback only; default 127.0.0.1). */
  address?: string;
  /** Bound on the whole conversation (default 10000 ms). */
  timeoutMs?: number;
}

export interface SmtpAuthResult {
  /** Final reply code to AUTH: 235 success, 535 failure, 454 temporary failure, 503/504 ... */
  code: number;
  /** Final reply text (all lines of the reply, "CODE text" joined by "\n"). */
  text: string;
  /** Mechanisms advertised in the EHLO reply (AUTH line), [] when AUTH was not advertised. */
  mechanisms: string[];
}

/**
 * One SMTP AUTH over a fresh connection: banner, EHLO, AUTH (with the 334 exchange), QUIT.
 * Resolves with the final AUTH reply; rejects on timeout, connection loss or protocol error.
 */
export function smtpAuth(o: SmtpAuthOptions): Promise<SmtpAuthResult> {
  const address = o.address ?? '127.0.0.1';
  if (!/^(127\.\d+\.\d+\.\d+|::1)$/.test(address)) return Promise.reject(new Error('smtpAuth: address must be loopback'));
  const timeoutMs = Math.min(Math.max(o.timeoutMs ?? 10000, 100), 120000);
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const initial = o.initialResponse ?? o.mechanism === 'PLAIN';
  const plainMsg = b64(`${o.authzid ?? ''}\0${o.user}\0${o.password}`);

  return new Promise((resolve, reject) => {
    const sock: Socket = connect({ host: address, port: o.port });
    let buf = '';
    let lines: string[] = [];
    let settled = false;
    let mechanisms: string[] = [];
    // states: banner -> ehlo -> auth (-> 334 steps) -> quit
    let state: 'banner' | 'ehlo' | 'auth' = 'banner';
    let loginStep = 0; // LOGIN: 334 replies seen
    let plainSent = initial;
    const done = (err: Error | null, r?: SmtpAuthResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!err) sock.end('QUIT\r\n');
      sock.destroy();
      if (err) reject(err);
      else resolve(r as SmtpAuthResult);
    };
    const timer = setTimeout(() => done(new Error(`smtpAuth: timeout after ${timeoutMs} ms in state ${state}`)), timeoutMs);
    const send = (line: string) => sock.write(line + '\r\n');

    const onReply = (code: number, reply: string[]) => {
      const text = reply.join('\n');
      if (state === 'banner') {
        if (code !== 220) return done(new Error(`smtpAuth: banner ${text}`));
        state = 'ehlo';
        return send('EHLO gatehouse-test.localhost');
      }
      if (state === 'ehlo') {
        if (code !== 250) return done(new Error(`smtpAuth: EHLO ${text}`));
        for (const l of reply) {
          const m = /^250[- ]AUTH[ =](.*)$/i.exec(l);
          if (m) mechanisms = (m[1] ?? '').trim().split(/\s+/).filter(Boolean);
        }
        state = 'auth';
        if (o.mechanism === 'PLAIN') return send(initial ? `AUTH PLAIN ${plainMsg}` : 'AUTH PLAIN');
        if (initial) loginStep = 1; // username already sent
        return send(initial ? `AUTH LOGIN ${b64(o.user)}` : 'AUTH LOGIN');
      }
      // state === 'auth'
      if (code === 334) {
        if (o.mechanism === 'PLAIN') {
          if (plainSent) return send('*'); // unexpected second challenge: cancel
          plainSent = true;
          return send(plainMsg);
        }
        loginStep++;
        if (loginStep === 1) return send(b64(o.user));
        if (loginStep === 2) return send(b64(o.password));
        return send('*');
      }
      return done(null, { code, text, mechanisms });
    };

    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > 65536) return done(new Error('smtpAuth: reply too long'));
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        const m = /^(\d{3})([ -])/.exec(line);
        if (!m) return done(new Error(`smtpAuth: bad reply line ${JSON.stringify(line.slice(0, 200))}`));
        lines.push(line);
        if (lines.length > 100) return done(new Error('smtpAuth: reply has too many lines'));
        if (m[2] === ' ') {
          const reply = lines;
          lines = [];
          onReply(Number(m[1]), reply);
          if (settled) return;
        }
      }
    });
    sock.on('error', (e) => done(new Error(`smtpAuth: ${e.message} (state ${state})`)));
    sock.on('close', () => done(new Error(`smtpAuth: connection closed in state ${state}`)));
  });
}
