/**
 * One query on its way through the pool: waiting in the queue, then in flight on a process.
 * It settles exactly once, whichever comes first: the reply, a timeout, an abort, an error.
 */
import { ExtauthError } from './errors.js';

/** What a job tells the queue holding it. */
interface Holder {
  left(): void;
}

export class Job {
  /** The framed query, written to the script in one write (DESIGN.md rule 3). */
  readonly frame: Buffer;
  /** The password of the query, for redaction of anything the script echoes (rule 8). */
  readonly secret: string | undefined;
  #resolve: (yes: boolean) => void;
  #reject: (err: ExtauthError) => void;
  #settled = false;
  #queueTimer: NodeJS.Timeout | undefined;
  /** Stops watching the caller's AbortSignal (watch). */
  #unwatch: (() => void) | undefined;
  #holder: Holder | null = null;
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** Ends the process running the job, should the job's deadline pass while it runs. */
  #abandon: (() => void) | null = null;

  constructor(
    frame: Buffer,
    secret: string | undefined,
    resolve: (yes: boolean) => void,
    reject: (err: ExtauthError) => void,
  ) {
    this.frame = frame;
    this.secret = secret;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** Fail with ERR_EXTAUTH_ABORTED when `signal` fires before the job settles. */
  watch(signal: AbortSignal): void {
    // An AbortSignal fires `abort` once; settling removes the listener either way.
    const onAbort = (): void => this.fail(new ExtauthError('ERR_EXTAUTH_ABORTED', undefined, { cause: signal.reason }));
    signal.addEventListener('abort', onAbort);
    this.#unwatch = () => signal.removeEventListener('abort', onAbort);
  }

  /** Fail with `err` after `ms` in the queue; cleared when a process takes the job. */
  expireIn(ms: number, err: () => ExtauthError): void {
    this.#queueTimer = setTimeout(() => this.fail(err()), ms);
  }

  /**
   * Fail with ERR_EXTAUTH_DEADLINE at `deadline` (performance.now() ms), whether the job is
   * still queued or already running. A caller that stops waiting at a fixed time and would
   * take a late answer for the next one (Prosody's pty module) needs this: a process that
   * is still working on the query is then ended (`startedOn`), so nothing late is left.
   */
  expireAt(deadline: number): void {
    this.#deadlineTimer = setTimeout(() => this.#expire(), Math.max(0, deadline - performance.now()));
  }

  /** The job has a caller's deadline (expireAt). */
  get hasDeadline(): boolean {
    return this.#deadlineTimer !== undefined;
  }

  /** A process took the job; `abandon` ends that process if the deadline passes first. */
  startedOn(abandon: () => void): void {
    this.#abandon = abandon;
  }

  /** Settling clears the deadline timer, so this runs only for a job not yet settled. */
  #expire(): void {
    const abandon = this.#abandon;
    // In flight, the script has the query: it may have acted on it (a setpass) before it is ended.
    this.fail(new ExtauthError('ERR_EXTAUTH_DEADLINE', undefined, { sent: abandon !== null }));
    abandon?.();
  }

  /** The job waits in `holder` until dequeued. */
  queuedIn(holder: Holder): void {
    this.#holder = holder;
  }

  /** Out of the queue: the queue wait is over. */
  dequeued(): void {
    this.#holder = null;
    clearTimeout(this.#queueTimer);
  }

  succeed(yes: boolean): void {
    if (this.#settled) return;
    this.#cleanup();
    this.#resolve(yes);
  }

  fail(err: ExtauthError): void {
    if (this.#settled) return;
    this.#cleanup();
    this.#reject(err);
  }

  #cleanup(): void {
    this.#settled = true;
    this.#abandon = null;
    clearTimeout(this.#deadlineTimer);
    const holder = this.#holder;
    this.dequeued();
    holder?.left();
    this.#unwatch?.();
  }
}
