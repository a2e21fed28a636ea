/**
 * What the probes share: the options, the findings, and the script's current process.
 *
 * Two rules keep a report readable and honest:
 * - A probe that may have broken the process (timeout, bad reply, extra output, exit) taints
 *   it, and the next query starts a fresh one, so one failure does not cascade into the next
 *   probe's verdict.
 * - Trouble that an ordinary query already showed (the baseline: `isuser` of an unknown user)
 *   is filed under its general id (reply-format, reply-timeout, exited); the same trouble
 *   showing only on a probe's special input is that probe's failure (a crash on a UTF-8
 *   password is `utf8-password`, not `exited`).
 */
import { DEFAULT_QUERY_LIMITS, type QueryLimits } from '../extauth/query.js';
import { wireProtocol, type ProtocolName, type WireProtocol } from '../extauth/wire/protocol.js';
import { containsSecret, hex, quoteText, showReply } from './excerpt.js';
import { Findings, type FindingId } from './findings.js';
import type { ProbeQuery } from './queries.js';
import type { ReplyUnit } from './replies.js';
import { ScriptSession, type Ending } from './session.js';

export interface KnownAccount {
  readonly user: string;
  readonly host: string;
  readonly password: string;
}

export interface CheckOptions {
  /** Program and arguments, run without a shell. */
  readonly argv: readonly string[];
  readonly protocol: ProtocolName;
  /** Longest wait for one reply, ms. */
  readonly timeoutMs: number;
  /** An account known to exist, with its password. */
  readonly account?: KnownAccount | undefined;
  /** The engine's query limit (external_auth_max_query_bytes); default 4096. */
  readonly maxQueryBytes?: number | undefined;
  readonly cwd?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Silence expected after start and after a reply, ms; default 300. */
  readonly quietMs?: number | undefined;
  /** Longest wait for a fresh process to finish starting, ms (default 10 s). */
  readonly startMs?: number | undefined;
  /** Wait after each reply for a surplus one, ms; default 50. */
  readonly settleMs?: number | undefined;
  /** Time allowed to exit after EOF, ms; default 2000. */
  readonly eofTimeoutMs?: number | undefined;
  /** Queries in the back-to-back and latency runs; default 200. */
  readonly batchSize?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

export type AnomalyKind = 'spawn-failed' | 'exited' | 'timeout' | 'bad-format' | 'diagnostic' | 'extra' | 'unsolicited';

export interface Anomaly {
  readonly kind: AnomalyKind;
  readonly detail: string;
}

export interface Outcome {
  /** The script's answer, when its (first) reply was well-formed. */
  readonly answer: boolean | null;
  /** A complete reply unit arrived, valid or not. */
  readonly replied: boolean;
  readonly anomaly: Anomaly | null;
  /** Time until the first complete reply unit, ms. */
  readonly ms: number;
}

export interface LatencyStats {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface BatchOutcome {
  readonly units: ReplyUnit[];
  /** Bytes of an unfinished reply after the last unit. */
  readonly pending: number;
  readonly ended: boolean;
  readonly timedOut: boolean;
  readonly ms: number;
}

/** Where an anomaly is filed when it is not specific to a probe's input. */
const GENERAL: Readonly<Record<AnomalyKind, FindingId>> = {
  'spawn-failed': 'spawn-failed',
  exited: 'exited',
  timeout: 'reply-timeout',
  'bad-format': 'reply-format',
  diagnostic: 'stderr-mixed',
  extra: 'extra-reply',
  unsolicited: 'unsolicited-output',
};

/** Kinds that depend on the input: a probe's own failure unless the baseline showed them too. */
const INPUT_SPECIFIC: ReadonlySet<AnomalyKind> = new Set(['exited', 'timeout', 'bad-format']);

/** The first words of a log line, an exception or a die message, not of a reply. */
const DIAGNOSTIC = /^\s*(traceback|error|warning|warn|debug|info|notice|fatal|exception|usage|panic|uncaught)\b|\b\w*(Error|Exception)\b|\bat \S+ line \d+/i;

export class ProbeContext {
  readonly argv: readonly string[];
  readonly protocolName: ProtocolName;
  readonly protocol: WireProtocol;
  readonly timeoutMs: number;
  readonly account: KnownAccount | undefined;
  readonly limits: QueryLimits;
  readonly quietMs: number;
  /** Longest wait for a fresh process to finish starting (ScriptSession.untilIdle). */
  readonly startMs: number;
  readonly settleMs: number;
  readonly eofTimeoutMs: number;
  readonly batchSize: number;
  /** Host of the unknown users: the known account's, so a script that checks hosts still looks them up. */
  readonly host: string;
  readonly findings = new Findings();
  /** Every password sent, redacted from anything shown. */
  readonly secrets = new Set<string>();
  /** Anomaly kinds the baseline query showed. */
  readonly baseline = new Set<AnomalyKind>();
  /** What the baseline found broken: 'start' (it does not stay up) or 'replies' (no reply). */
  broken: 'start' | 'replies' | null = null;
  /** The script prints at start: fresh processes are given time to do so, and it is dropped. */
  chattyStart = false;
  /** Reply times of the latency probe, for the report. */
  latency: LatencyStats | null = null;
  /** Sessions started, for stderr totals and clean-up. */
  readonly sessions: ScriptSession[] = [];
  readonly #cwd: string | undefined;
  readonly #env: NodeJS.ProcessEnv | undefined;
  #current: ScriptSession | null = null;

  constructor(o: CheckOptions) {
    this.argv = o.argv;
    this.protocolName = o.protocol;
    this.protocol = wireProtocol(o.protocol);
    this.timeoutMs = o.timeoutMs;
    this.account = o.account;
    this.limits = Object.freeze({
      maxFieldBytes: DEFAULT_QUERY_LIMITS.maxFieldBytes,
      maxQueryBytes: Math.min(o.maxQueryBytes ?? DEFAULT_QUERY_LIMITS.maxQueryBytes, this.protocol.maxQueryBytes),
    });
    this.quietMs = o.quietMs ?? 300;
    this.startMs = o.startMs ?? 10_000;
    this.settleMs = o.settleMs ?? 50;
    this.eofTimeoutMs = o.eofTimeoutMs ?? 2000;
    this.batchSize = o.batchSize ?? 200;
    this.host = o.account?.host ?? 'localhost';
    this.#cwd = o.cwd;
    this.#env = o.env;
    if (o.account !== undefined) this.secrets.add(o.account.password);
  }

  /** Start a new process for the script, ending the current one. */
  async fresh(): Promise<ScriptSession> {
    await this.#current?.kill();
    const s = new ScriptSession({ argv: this.argv, protocol: this.protocolName, cwd: this.#cwd, env: this.#env });
    this.sessions.push(s);
    this.#current = s;
    if (this.chattyStart) {
      // Already reported; let it have its say so that the banner is not read as a reply.
      await s.untilIdle(this.startMs);
      await s.sleep(this.quietMs);
      s.discard();
    }
    return s;
  }

  /** The current process, or a fresh one when there is none or a probe may have broken it. */
  async session(): Promise<ScriptSession> {
    const s = this.#current;
    if (s !== null && !s.tainted && !s.ended) return s;
    return this.fresh();
  }

  /** Send one query and judge the reply. `settleMs` is how long to watch for a surplus. */
  async ask(probe: string, q: ProbeQuery, settleMs = this.settleMs): Promise<Outcome> {
    const s = await this.#ready(probe, q);
    if (s.spawnError !== null) return { answer: null, replied: false, anomaly: this.spawnFailed(s), ms: 0 };
    const t0 = performance.now();
    s.write(this.protocol.encodeQuery(q.bytes));
    await s.until(() => s.units.length > 0 || s.ended, this.timeoutMs);
    const first = s.units.shift();
    if (first === undefined) {
      s.tainted = true;
      return { answer: null, replied: false, anomaly: this.noReply(s, q.what), ms: performance.now() - t0 };
    }
    if (settleMs > 0) await s.until(() => s.units.length > 0 || s.pending > 0 || s.ended, settleMs);
    const anomaly = this.#judge(s, first, q);
    if (anomaly !== null) s.tainted = true;
    return { answer: first.answer, replied: true, anomaly, ms: first.at - t0 };
  }

  /** Send all queries in one write; collect every unit until all are answered (bounded). */
  async askMany(probe: string, qs: readonly ProbeQuery[]): Promise<BatchOutcome> {
    const s = await this.#ready(probe, ...qs);
    const t0 = performance.now();
    if (s.spawnError === null) s.write(Buffer.concat(qs.map((q) => this.protocol.encodeQuery(q.bytes))), qs.length);
    // Each reply must follow the previous within the timeout; the whole run is capped too, so a
    // slow script cannot make one probe last 200 timeouts.
    const cap = t0 + Math.max(4 * this.timeoutMs, 10_000);
    let timedOut = false;
    while (s.units.length < qs.length && !s.ended) {
      const before = s.units.length;
      const left = Math.min(this.timeoutMs, cap - performance.now());
      await s.until(() => s.units.length >= qs.length || s.ended, left);
      if (s.units.length === before || performance.now() >= cap) {
        timedOut = s.units.length < qs.length && !s.ended;
        break;
      }
    }
    const ms = performance.now() - t0;
    if (!timedOut && !s.ended) {
      await s.until(() => s.units.length > qs.length || s.pending > 0 || s.ended, this.quietMs);
    }
    const units = s.units.splice(0);
    const out = { units, pending: s.pending, ended: s.ended, timedOut, ms };
    if (units.length !== qs.length || out.pending > 0 || out.ended || units.some((u) => u.answer === null)) s.tainted = true;
    return out;
  }

  /**
   * File an anomaly: under the probe's own id when it is specific to the probe's input, else
   * under its general id (see the header).
   */
  file(probe: FindingId, a: Anomaly): void {
    const general = GENERAL[a.kind];
    if (INPUT_SPECIFIC.has(a.kind) && !this.baseline.has(a.kind)) this.findings.add(probe, 'fail', a.detail, probe);
    else this.findings.add(general, 'fail', a.detail, probe);
  }

  /** File an anomaly of the baseline query: always general, and remembered as such. */
  fileBaseline(probe: string, a: Anomaly): void {
    this.baseline.add(a.kind);
    this.findings.add(GENERAL[a.kind], 'fail', a.detail, probe);
  }

  spawnFailed(s: ScriptSession): Anomaly {
    return { kind: 'spawn-failed', detail: `cannot run ${JSON.stringify(this.argv[0])}: ${s.spawnError?.message ?? 'unknown error'}` };
  }

  /** Why no reply came: an unfinished reply, an exit, or silence. */
  noReply(s: ScriptSession, what: string): Anomaly {
    if (s.pending > 0) {
      const bytes = s.tail(s.pending);
      const kind = DIAGNOSTIC.test(bytes.toString('utf8')) ? 'diagnostic' : 'bad-format';
      return { kind, detail: `answered ${what} with ${this.#showUnfinished(bytes)}${this.#protocolHint(bytes)}` };
    }
    if (s.ended) {
      return { kind: 'exited', detail: `exited (${how(s.exit)}) without answering ${what}${this.stderrHint(s)}` };
    }
    return { kind: 'timeout', detail: `no reply to ${what} within ${seconds(this.timeoutMs)}` };
  }

  /** The last stderr line, redacted: a traceback's last line usually says what went wrong. */
  stderrHint(s: ScriptSession): string {
    return s.stderr.last !== '' ? `; its stderr ends with ${quoteText(Buffer.from(s.stderr.last), this.secrets)}` : '';
  }

  /** A unit as shown in messages. */
  show(unit: ReplyUnit): string {
    if (unit.overlong === true) return 'a line over 64 KiB';
    if (this.protocolName === 'ejabberd') {
      const frame = Buffer.allocUnsafe(unit.raw.length + 2);
      frame.writeUInt16BE(unit.raw.length, 0);
      unit.raw.copy(frame, 2);
      return showReply(frame, 'ejabberd', this.secrets);
    }
    return quoteText(unit.raw, this.secrets);
  }

  /** The replies the protocol allows, for messages. */
  get allowed(): string {
    return this.protocolName === 'ejabberd' ? 'exactly 00 02 00 01 or 00 02 00 00' : 'a line holding exactly "1" or "0"';
  }

  looksLikeDiagnostic(unit: ReplyUnit): boolean {
    return DIAGNOSTIC.test(unit.raw.toString('utf8'));
  }

  /** End every process. */
  async close(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.kill()));
    this.#current = null;
  }

  /** The current process, after reporting (and clearing) anything it wrote since its last reply. */
  async #ready(probe: string, ...qs: ProbeQuery[]): Promise<ScriptSession> {
    for (const q of qs) if (q.password !== undefined && q.password !== '') this.secrets.add(q.password);
    let s = await this.session();
    if (s.units.length > 0 || s.pending > 0) {
      const n = s.units.length;
      const what = n > 0 ? `${n} more repl${n === 1 ? 'y' : 'ies'}${s.pending > 0 ? ' and more bytes' : ''}` : `${s.pending} bytes`;
      this.findings.add('extra-reply', 'fail', `wrote ${what} after an earlier reply was complete`, probe);
      s.tainted = true;
      s = await this.session();
    }
    return s;
  }

  #judge(s: ScriptSession, first: ReplyUnit, q: ProbeQuery): Anomaly | null {
    if (first.answer === null) {
      if (this.looksLikeDiagnostic(first)) {
        return { kind: 'diagnostic', detail: `wrote ${this.show(first)} to stdout in reply to ${q.what}: diagnostics belong on stderr` };
      }
      const echo = containsSecret(first.raw, this.secrets) ? ' (it echoes the password)' : '';
      return { kind: 'bad-format', detail: `answered ${q.what} with ${this.show(first)}${echo}; the protocol allows ${this.allowed}` };
    }
    if (s.units.length > 0 || s.pending > 0) {
      const diag = s.units.find((u) => this.looksLikeDiagnostic(u));
      if (diag !== undefined) {
        return { kind: 'diagnostic', detail: `wrote ${this.show(diag)} to stdout after answering ${q.what}: diagnostics belong on stderr` };
      }
      const more = s.units.length > 0 ? `then ${this.show(s.units[0]!)}${s.units.length > 1 ? ` and ${s.units.length - 1} more` : ''}` : `then ${s.pending} more bytes`;
      return { kind: 'extra', detail: `answered ${q.what} with ${this.show(first)}, ${more}: one query, one reply` };
    }
    if (s.ended) {
      return { kind: 'exited', detail: `exited (${how(s.exit)}) right after answering ${q.what}: it must keep serving queries until EOF` };
    }
    return null;
  }

  #showUnfinished(bytes: Buffer): string {
    const shown = this.protocolName === 'ejabberd' ? showReply(bytes, 'ejabberd', this.secrets) : quoteText(bytes, this.secrets);
    return `${shown} and nothing more (${this.protocolName === 'ejabberd' ? 'an incomplete frame' : 'no line end'})`;
  }

  /** The classic mix-up: a script of one protocol run with the other. */
  #protocolHint(bytes: Buffer): string {
    if (this.protocolName === 'generic' && bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 2) {
      return ` (${hex(bytes.subarray(0, 4))} is an ejabberd reply: is the script meant for --protocol ejabberd?)`;
    }
    if (this.protocolName === 'ejabberd' && /^[01]\r?\n/.test(bytes.toString('latin1'))) {
      return ' (a "1"/"0" line is a generic-protocol reply: is the script meant for --protocol generic?)';
    }
    return '';
  }
}

/** "code 1" or "signal SIGKILL". */
export function how(exit: Ending | null): string {
  if (exit === null) return 'unknown status';
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/** "2 s", "0.5 s". */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

