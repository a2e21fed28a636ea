// Real XMPP client logins for interop tests (SASL PLAIN over plain TCP on loopback).
//  - xmppLogin / xmppLoginDetailed / xmppLoginRate: slixmpp via test/interop/xmpp_login.py
//  - plainLoginRate: the cheap raw-socket client test/interop/plain_login.mjs (for load)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Finds test/interop/<name> from this module, whether it runs from dist/test/interop or test/interop. */
export function interopFile(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'test', 'interop', name);
    if (existsSync(p)) return p;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`test/interop/${name} not found above ${fileURLToPath(import.meta.url)}`);
}

/** A python3 that can import slixmpp: $GATEHOUSE_PYTHON, else Debian's /usr/bin/python3
 *  (python3-slixmpp installs there; a pyenv/venv python3 on PATH usually lacks it). */
export function slixmppPython(): string {
  if (process.env.GATEHOUSE_PYTHON) return process.env.GATEHOUSE_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export interface XmppLoginOptions {
  /** c2s port on the loopback address. */
  port: number;
  /** "user@domain", or just "user" (then `host` is the domain). */
  jid: string;
  /** Sent byte-exact as UTF-8 (through stdin; no SASLprep). */
  password: string;
  /** XMPP domain used when `jid` has no "@" (default "localhost"). */
  host?: string;
  /** Loopback address to connect to (default 127.0.0.1). */
  address?: string;
  /** Per-login timeout (default 10000 ms). */
  timeoutMs?: number;
}

export interface XmppLoginResult {
  ok: boolean;
  /** The script's output line: "OK" or "FAIL <reason>". */
  line: string;
  code: number | null;
  stderr: string;
}

function fullJid(o: { jid: string; host?: string }): string {
  return o.jid.includes('@') ? o.jid : `${o.jid}@${o.host ?? 'localhost'}`;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input: string, hardTimeoutMs: number, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 65536) stderr += d;
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), hardTimeoutMs);
    c.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    c.stdin.on('error', () => {
      /* child may exit before reading */
    });
    c.stdin.end(Buffer.from(input, 'utf8'));
  });
}

export async function xmppLoginDetailed(o: XmppLoginOptions): Promise<XmppLoginResult> {
  const timeoutMs = o.timeoutMs ?? 10000;
  const args = [
    interopFile('xmpp_login.py'),
    '--host',
    o.address ?? '127.0.0.1',
    '--port',
    String(o.port),
    '--jid',
    fullJid(o),
    '--password-stdin',
    '--timeout',
    String(timeoutMs / 1000),
  ];
  // Hard bound: python start-up (~0.3 s) + login timeout + slack.
  const r = await run(slixmppPython(), args, o.password, timeoutMs + 10000);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { ok: r.code === 0 && line === 'OK', line: line || `FAIL no output (exit ${r.code})`, code: r.code, stderr: r.stderr };
}

/** One real slixmpp login; true only if SASL PLAIN succeeded and the session was bound. */
export async function xmppLogin(o: XmppLoginOptions): Promise<boolean> {
  return (await xmppLoginDetailed(o)).ok;
}

export interface RateOptions extends XmppLoginOptions {
  /** Upper bound on logins. */
  count: number;
  /** Logins in flight (default 1). */
  concurrency?: number;
  /** Upper bound on time (default 20 s). */
  maxSeconds?: number;
}

export interface RateResult {
  ok: number;
  fail: number;
  /** plain_login.mjs only: logins cut by the time bound (not failures). */
  cut: number;
  elapsedS: number;
  perSecond: number;
  line: string;
}

function parseCount(stdout: string): RateResult {
  const line = stdout.split('\n').find((l) => l.startsWith('COUNT ')) ?? '';
  const m = (k: string) => {
    const r = new RegExp(`(?:^|\\s)${k}=([0-9.]+)`).exec(line);
    return r ? Number(r[1]) : NaN;
  };
  return { ok: m('ok'), fail: m('fail'), cut: Number.isNaN(m('cut')) ? 0 : m('cut'), elapsedS: m('elapsed'), perSecond: m('rate'), line };
}

/** Many slixmpp logins (each stops at SASL <success/>); slow per login, for sanity not load. */
export async function xmppLoginRate(o: RateOptions): Promise<RateResult> {
  const maxSeconds = o.maxSeconds ?? 20;
  const args = [
    interopFile('xmpp_login.py'),
    '--host',
    o.address ?? '127.0.0.1',
    '--port',
    String(o.port),
    '--jid',
    fullJid(o),
    '--password-stdin',
    '--timeout',
    String((o.timeoutMs ?? 10000) / 1000),
    '--count',
    String(o.count),
    '--concurrency',
    String(o.concurrency ?? 1),
    '--max-seconds',
    String(maxSeconds),
  ];
  const r = await run(slixmppPython(), args, o.password, (maxSeconds + 30) * 1000);
  return parseCount(r.stdout);
}

/** Many logins with the raw-socket client (stream header, features, <auth PLAIN>, <success/>). */
export async function plainLoginRate(o: RateOptions): Promise<RateResult> {
  const maxSeconds = o.maxSeconds ?? 20;
  const jid = fullJid(o);
  const at = jid.lastIndexOf('@');
  const args = [
    interopFile('plain_login.mjs'),
    '--address',
    o.address ?? '127.0.0.1',
    '--port',
    String(o.port),
    '--user',
    jid.slice(0, at),
    '--domain',
    jid.slice(at + 1),
    '--password-stdin',
    '--timeout',
    String((o.timeoutMs ?? 10000) / 1000),
    '--count',
    String(o.count),
    '--concurrency',
    String(o.concurrency ?? 1),
    '--max-seconds',
    String(maxSeconds),
  ];
  const r = await run(process.execPath, args, o.password, (maxSeconds + 30) * 1000);
  return parseCount(r.stdout);
}
