/**
 * One auth script process and its lifecycle (states as data, transitions as methods, in the
 * manner of generic-pool's PooledResource):
 *
 *   starting --spawn + quiet period--> ready --execute--> busy --reply--> ready
 *       |                 |                  |
 *       |                 +------------------+--timeout / bad reply / unexpected data--> stopping --> dead
 *       +--spawn error / exit------------------------------------------------------------------------> dead
 *
 * Rules enforced here (DESIGN.md): pipes only, never a pty (1); one query in flight, written in
 * one write (3); a timeout or a protocol error retires the process for good, so a late reply
 * can never answer another query (4); an exit fails the query in flight as an error (5);
 * stderr is logged, never read as a reply (1, 8).
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log/logger.js';
import { ExtauthError, type ExtauthErrorCode } from './errors.js';
import type { Job } from './job.js';
import { StderrLog } from './stderr.js';
import { signalGroup, spawnScript } from './spawn.js';
import { WireError } from './wire/errors.js';
import { PARTIAL, YES, type ReadResult, type ReplyReader, type WireProtocol } from './wire/protocol.js';

export type ProcessState = 'starting' | 'ready' | 'busy' | 'stopping' | 'dead';

export interface ProcessOptions {
  readonly argv: readonly string[];
  readonly cwd?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly protocol: WireProtocol;
  readonly timeoutMs: number;
  readonly killGraceMs: number;
  readonly maxReplyBytes: number;
  /**
   * A new process takes work only after it has been alive and silent this long. Output before
   * the first query (a banner, an echo) would otherwise be read as the first reply, as with the
   * pty echo that shifted every answer in Prosody's module.
   */
  readonly startQuietMs: number;
  readonly logger: Logger;
}

/** Why a process left the pool. */
export interface ProcessEnd {
  readonly code: ExtauthErrorCode;
  /** It had answered at least one query (it did start up properly). */
  readonly answered: boolean;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly detail: string;
}

export interface ProcessEvents {
  /** Ready for a (next) query. */
  idle(proc: AuthProcess): void;
  /** Out of service: the pool may start a replacement now. Called once. */
  gone(proc: AuthProcess, end: ProcessEnd): void;
  /** The OS process and its pipes are gone. Called once, after `gone`. */
  closed(proc: AuthProcess): void;
}

/** After an exit, how long to wait for stdout to drain before giving up on it. */
const EXIT_DRAIN_MS = 250;

let nextId = 1;

export class AuthProcess {
  readonly id = nextId++;
  #state: ProcessState = 'starting';
  readonly #o: ProcessOptions;
  readonly #events: ProcessEvents;
  readonly #child: ChildProcess;
  readonly #reader: ReplyReader;
  readonly #log: Logger;
  readonly #stderr: StderrLog;
  #job: Job | null = null;
  /**
   * One timer per process, re-armed by refresh() for each query (no allocation on the hot
   * path). It may fire after its query was answered; it then finds no job and does nothing.
   */
  #jobTimer: NodeJS.Timeout | undefined;
  #startTimer: NodeJS.Timeout | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  #answered = false;
  /** Passwords of the current and previous query, redacted from anything logged. */
  #secret: string | undefined;
  #previousSecret: string | undefined;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  #goneSent = false;
  #closed = false;
  #closedPromise: Promise<void>;
  #resolveClosed!: () => void;

  constructor(options: ProcessOptions, events: ProcessEvents) {
    this.#o = options;
    this.#events = events;
    this.#log = options.logger.child({ proc: this.id });
    this.#reader = options.protocol.createReplyReader(options.maxReplyBytes);
    this.#closedPromise = new Promise((r) => (this.#resolveClosed = r));
    this.#stderr = new StderrLog({ logger: this.#log, secrets: () => [this.#secret, this.#previousSecret].filter((x): x is string => x !== undefined) });

    // Pipes, no shell, its own process group (spawn.ts).
    this.#child = spawnScript(options);
    const child = this.#child;
    child.once('spawn', () => this.#onSpawn());
    child.on('error', (err) => this.#onError(err));
    child.once('exit', (code, signal) => this.#onExit(code, signal));
    child.once('close', () => this.#onClose());
    child.stdin!.on('error', () => {}); // EPIPE when the script died: reported by exit/close.
    child.stdout!.on('data', (chunk: Buffer) => this.#onData(chunk));
    child.stdout!.once('end', () => this.#onStdoutEnd());
    child.stdout!.on('error', () => {});
    child.stderr!.on('data', (chunk: Buffer) => this.#stderr.push(chunk));
    child.stderr!.once('end', () => this.#stderr.end());
    child.stderr!.on('error', () => {});
  }

  get state(): ProcessState {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** When the process first became ready (Date.now() ms), or null while it starts. */
  get readyAt(): number | null {
    return this.#readyAt;
  }

  /** Resolves when the OS process and its pipes are gone. */
  get closedPromise(): Promise<void> {
    return this.#closedPromise;
  }

  /** Send one query. Only in state `ready`. */
  execute(job: Job): void {
    if (this.#state !== 'ready') throw new Error(`execute() in state ${this.#state}`);
    this.#state = 'busy';
    this.#job = job;
    if (job.secret !== undefined) {
      this.#previousSecret = this.#secret;
      this.#secret = job.secret;
    }
    if (this.#jobTimer === undefined) {
      this.#jobTimer = setTimeout(() => this.#onTimeout(), this.#o.timeoutMs);
      this.#jobTimer.unref();
    } else {
      this.#jobTimer.refresh();
    }
    if (job.hasDeadline) {
      job.startedOn(() => {
        if (this.#job !== job) return;
        this.#log.warn({}, "the caller's deadline passed before the auth script answered; replacing it");
        this.retire('ERR_EXTAUTH_DEADLINE', "no reply before the caller's deadline");
      });
    }
    this.#child.stdin!.write(job.frame);
  }

  /**
   * Take the process out of service and end it: SIGTERM to its process group, then SIGKILL
   * after the grace period (execa's terminate/kill). A query in flight fails with `code`.
   */
  retire(code: ExtauthErrorCode, detail: string): void {
    if (this.#state === 'stopping' || this.#state === 'dead') return;
    this.#state = 'stopping';
    this.#failJob(code, detail);
    this.#child.stdout!.removeAllListeners('data');
    this.#child.stdout!.destroy();
    this.#child.stdin!.destroy();
    this.#sendGone(code, detail);
    this.#kill('SIGTERM');
    this.#killTimer = setTimeout(() => this.#kill('SIGKILL'), this.#o.killGraceMs);
  }

  /**
   * Graceful stop for shutdown (DESIGN.md rule 9): close stdin so a well-behaved script exits on
   * EOF; SIGTERM after `eofGraceMs`, SIGKILL after the kill grace. Waits for a query in flight.
   */
  shutdown(eofGraceMs: number): Promise<void> {
    if (this.#state === 'busy') {
      // Its own timeout bounds the wait; stop as soon as it settles.
      this.#afterJob = () => this.shutdown(eofGraceMs);
      return this.#closedPromise;
    }
    if (this.#state === 'dead' || this.#state === 'stopping') return this.#closedPromise;
    this.#state = 'stopping';
    this.#sendGone('ERR_EXTAUTH_CLOSED', 'shutdown');
    this.#child.stdin!.end();
    this.#killTimer = setTimeout(() => {
      this.#kill('SIGTERM');
      this.#killTimer = setTimeout(() => this.#kill('SIGKILL'), this.#o.killGraceMs);
    }, eofGraceMs);
    return this.#closedPromise;
  }

  /** Immediate SIGKILL, for a forced close. */
  kill(): Promise<void> {
    if (this.#state !== 'dead') {
      this.#state = 'stopping';
      this.#failJob('ERR_EXTAUTH_CLOSED', 'forced close');
      this.#sendGone('ERR_EXTAUTH_CLOSED', 'forced close');
      this.#kill('SIGKILL');
    }
    return this.#closedPromise;
  }

  #afterJob: (() => void) | null = null;
  #readyAt: number | null = null;

  #onSpawn(): void {
    // Stopped meanwhile (retire, kill): the timer finds it no longer starting.
    this.#startTimer = setTimeout(() => {
      if (this.#state !== 'starting') return;
      this.#state = 'ready';
      this.#readyAt = Date.now();
      this.#events.idle(this);
    }, this.#o.startQuietMs);
  }

  #onError(err: Error): void {
    if (this.#state === 'starting' && this.#child.pid === undefined) {
      // The program could not be started at all (ENOENT, EACCES...): no 'exit' will follow.
      this.#state = 'dead';
      this.#sendGone('ERR_EXTAUTH_SPAWN_FAILED', err.message);
      this.#finish();
      return;
    }
    this.#log.warn({ err: err.message }, 'auth script process error');
  }

  #onData(chunk: Buffer): void {
    const job = this.#job;
    // A job is set exactly while the process is busy (execute() sets both; every way out of
    // busy clears it).
    if (job === null) {
      this.#protocolError(new WireError('ERR_WIRE_UNEXPECTED_DATA'), chunk.length);
      return;
    }
    let result: ReadResult;
    try {
      // Throws on a bad reply, and on anything after the reply in the same read: a lying
      // script ("1\n1\n") must not get to answer a later query with the surplus.
      result = this.#reader.read(chunk);
    } catch (err) {
      // The readers throw only WireError; anything else is a bug, and a bug while reading a
      // reply still answers "no" and recycles the script rather than end the service.
      this.#protocolError(err as Error, chunk.length);
      return;
    }
    if (result === PARTIAL) return; // wait for the rest
    this.#job = null;
    this.#answered = true;
    this.#state = 'ready';
    job.succeed(result === YES);
    if (this.#afterJob !== null) {
      const next = this.#afterJob;
      this.#afterJob = null;
      next();
      return;
    }
    this.#events.idle(this);
  }

  #protocolError(err: Error & { code?: string }, bytes: number): void {
    // The reply's content is not logged: a script may echo the password into it (rule 8).
    this.#log.warn({ code: err.code, bytes }, `auth script broke the protocol: ${err.message}; recycling it`);
    this.retire('ERR_EXTAUTH_BAD_REPLY', err.message);
  }

  #onTimeout(): void {
    // The timer is re-armed by each execute(), so when it fires in state busy, the query in
    // flight has had its full time; otherwise its query was answered and it does nothing.
    if (this.#state !== 'busy') return;
    this.#log.warn({ timeoutMs: this.#o.timeoutMs }, 'auth script timed out; killing it');
    this.retire('ERR_EXTAUTH_TIMEOUT', `no reply within ${this.#o.timeoutMs} ms`);
  }

  #onStdoutEnd(): void {
    // stdout closed: no reply can come. Wait for the exit status to report it if it follows;
    // by then retire() does nothing if the process is already stopping or dead.
    setTimeout(() => this.retire('ERR_EXTAUTH_EXITED', 'the auth script closed its stdout'), EXIT_DRAIN_MS).unref();
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.#exit = { code, signal };
    // stdout may still hold a reply written just before the exit: 'close' reports after it
    // drained. If a forked grandchild keeps the pipe open, stop waiting after a short while.
    setTimeout(() => {
      if (!this.#closed) {
        this.#child.stdout!.destroy();
        this.#child.stderr!.destroy();
        this.#kill('SIGKILL');
      }
    }, EXIT_DRAIN_MS).unref();
  }

  #onClose(): void {
    const exit = this.#exit ?? { code: this.#child.exitCode, signal: this.#child.signalCode };
    const how = exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
    // On the way out through retire() or kill() the job was already failed: nothing to fail.
    this.#failJob('ERR_EXTAUTH_EXITED', `the auth script exited (${how})`, exit);
    this.#sendGone('ERR_EXTAUTH_EXITED', `the auth script exited (${how})`);
    this.#state = 'dead';
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    // Anything the script forked into its process group goes with it: no orphans (rule 9).
    signalGroup(this.#child, 'SIGKILL');
    this.#closed = true;
    clearTimeout(this.#jobTimer);
    clearTimeout(this.#startTimer);
    clearTimeout(this.#killTimer);
    this.#stderr.end();
    this.#secret = undefined;
    this.#previousSecret = undefined;
    this.#events.closed(this);
    this.#resolveClosed();
  }

  #failJob(
    code: ExtauthErrorCode,
    detail: string,
    exit: { code: number | null; signal: NodeJS.Signals | null } | null = null,
  ): void {
    const job = this.#job;
    if (job === null) return;
    this.#job = null;
    job.fail(
      new ExtauthError(code, detail, {
        sent: true,
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
      }),
    );
  }

  #sendGone(code: ExtauthErrorCode, detail: string): void {
    if (this.#goneSent) return;
    this.#goneSent = true;
    this.#events.gone(this, {
      code,
      detail,
      answered: this.#answered,
      exitCode: this.#exit?.code ?? null,
      signal: this.#exit?.signal ?? null,
    });
  }

  #kill(signal: NodeJS.Signals): void {
    if (this.#closed) return;
    signalGroup(this.#child, signal); // the whole process group
  }
}
