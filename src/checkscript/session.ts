/**
 * One run of the script under test. It is spawned the way the engine spawns it: no shell,
 * three separate pipes (never a pty, so no byte is rewritten by a line discipline), its own
 * process group (so a kill reaches anything it forked). Every stdout byte is kept and cut into
 * reply units for the probes to judge; stderr is captured apart and never read as a reply.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { signalGroup, spawnScript } from '../extauth/spawn.js';
import type { ProtocolName } from '../extauth/wire/protocol.js';
import { createSplitter, type ReplySplitter, type ReplyUnit } from './replies.js';

/** untilIdle: this many samples in a row asleep without CPU use, this far apart. */
const IDLE_SAMPLES = 5;
const IDLE_SAMPLE_MS = 20;

export interface SessionOptions {
  readonly argv: readonly string[];
  readonly protocol: ProtocolName;
  readonly cwd?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
}

export interface Ending {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What a script wrote to stderr, bounded. */
export interface StderrSample {
  bytes: number;
  lines: number;
  /** The first few lines, cut. */
  readonly first: string[];
  /** The last line (a traceback's last line names the error), cut. */
  last: string;
}

/** After an exit, how long stdout may take to drain before the session counts as ended. */
const EXIT_DRAIN_MS = 100;
const STDERR_KEEP_LINES = 3;
const STDERR_KEEP_CHARS = 200;
/** Bytes of stdout kept for showing an unfinished reply. */
const TAIL_BYTES = 512;
/** Linux reports /proc times in USER_HZ, which is 100 on every architecture it runs on. */
const USER_HZ = 100;

export class ScriptSession {
  readonly #child: ChildProcess;
  readonly #splitter: ReplySplitter;
  /** Reply units read and not yet taken by a probe. */
  readonly units: ReplyUnit[] = [];
  readonly stderr: StderrSample = { bytes: 0, lines: 0, first: [], last: '' };
  #stderrLine = '';
  readonly #stderrText = new StringDecoder('utf8');
  #stdoutBytes = 0;
  #sawCr = false;
  #tail = Buffer.alloc(0);
  #queries = 0;
  #spawnError: Error | null = null;
  #exit: Ending | null = null;
  #ended = false;
  #killed = false;
  readonly #waiters = new Set<() => void>();
  /** A probe may have broken it: the next probe needs a fresh process. */
  tainted = false;

  constructor(options: SessionOptions) {
    this.#splitter = createSplitter(options.protocol);
    this.#child = spawnScript(options);
    const child = this.#child;
    child.on('error', (err) => {
      if (child.pid === undefined) {
        this.#spawnError = err;
        this.#end();
      }
    });
    child.once('exit', (code, signal) => {
      this.#exit = { code, signal };
      this.#notify();
      // A forked grandchild may hold stdout open forever; stop waiting for it after a moment.
      setTimeout(() => this.#end(), EXIT_DRAIN_MS).unref();
    });
    child.once('close', () => this.#end());
    child.stdin!.on('error', () => {}); // EPIPE once the script is gone: reported by its exit.
    child.stdout!.on('error', () => {});
    child.stderr!.on('error', () => {});
    child.stdout!.on('data', (chunk: Buffer) => this.#onStdout(chunk));
    child.stderr!.on('data', (chunk: Buffer) => this.#onStderr(chunk));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Set when the program could not be started at all (ENOENT, EACCES...). */
  get spawnError(): Error | null {
    return this.#spawnError;
  }

  /** The process exited and its output is drained (or given up on). */
  get ended(): boolean {
    return this.#ended;
  }

  get exit(): Ending | null {
    return this.#exit;
  }

  get stdoutBytes(): number {
    return this.#stdoutBytes;
  }

  /** Bytes of an unfinished reply unit. */
  get pending(): number {
    return this.#splitter.pending;
  }

  /** The last `n` stdout bytes (at most 512), to show an unfinished reply. */
  tail(n: number): Buffer {
    return this.#tail.subarray(Math.max(0, this.#tail.length - n));
  }

  /** A `\r` was seen on stdout (the generic protocol allows `\r\n`; worth saying). */
  get sawCr(): boolean {
    return this.#sawCr;
  }

  /** Queries written so far. */
  get queries(): number {
    return this.#queries;
  }

  /** Write framed queries in one write (DESIGN.md rule 3), counting `count` queries. */
  write(bytes: Buffer, count = 1): void {
    this.#queries += count;
    if (!this.#ended && this.#child.stdin!.writable) this.#child.stdin!.write(bytes);
  }

  /** Drop everything read so far, for a script known to print at start. */
  discard(): void {
    this.units.length = 0;
    this.#splitter.reset();
  }

  /** Close stdin: EOF for the script. */
  closeStdin(): void {
    this.#child.stdin!.end();
  }

  /**
   * Resolves true as soon as `pred()` holds, false after `ms`. Re-evaluated whenever output
   * arrives or the process ends, so no probe sleeps longer than it must.
   */
  async until(pred: () => boolean, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!pred()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
    return true;
  }

  /** Wait out `ms` unless the process ends first. */
  sleep(ms: number): Promise<boolean> {
    return this.until(() => this.#ended, ms);
  }

  /**
   * Wait until the script has finished starting: asleep (blocked, typically reading its stdin)
   * with no CPU used over `IDLE_SAMPLES` samples in a row, or ended, or `maxMs` passed. A
   * fixed pause would not do: on a loaded machine an interpreter may take seconds to start, and
   * a banner it prints then would be taken for the reply to the first query. Where /proc is not
   * available it returns at once (the callers' quiet period still applies).
   */
  async untilIdle(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    let last: string | null = null;
    let still = 0;
    while (!this.#ended && Date.now() < until) {
      const now = this.#schedState();
      if (now === null) return;
      still = now.state === 'S' && now.cpu === last ? still + 1 : 0;
      if (still >= IDLE_SAMPLES) return;
      last = now.cpu;
      await this.until(() => this.#ended, IDLE_SAMPLE_MS);
    }
  }

  /** The process's scheduler state (R, S, D...) and CPU ticks, from /proc; null if unavailable. */
  #schedState(): { state: string; cpu: string } | null {
    const f = this.#statFields();
    return f === null ? null : { state: f[0]!, cpu: `${f[11]}+${f[12]}` };
  }

  /** CPU seconds used so far (user + system), from /proc; null where that is unavailable. */
  cpuSeconds(): number | null {
    if (this.#ended) return null;
    const f = this.#statFields();
    return f === null ? null : (Number(f[11]) + Number(f[12])) / USER_HZ;
  }

  /** /proc/PID/stat from the state on (field 3); null where it cannot be read. */
  #statFields(): string[] | null {
    const pid = this.#child.pid;
    if (pid === undefined) return null;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: count from its last ')'.
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    } catch {
      return null;
    }
  }

  /**
   * SIGKILL the process group and wait (bounded) until it is reaped. The group is signalled
   * even when the script itself has exited: anything it forked may still be in it.
   */
  async kill(): Promise<void> {
    if (!this.#killed) {
      this.#killed = true;
      signalGroup(this.#child, 'SIGKILL');
    }
    await this.until(() => this.#ended, 2000);
    this.#child.stdout!.destroy();
    this.#child.stderr!.destroy();
    this.#child.stdin!.destroy();
  }

  #onStdout(chunk: Buffer): void {
    this.#stdoutBytes += chunk.length;
    if (chunk.includes(0x0d)) this.#sawCr = true;
    this.#tail = Buffer.concat([this.#tail, chunk]);
    if (this.#tail.length > TAIL_BYTES) this.#tail = this.#tail.subarray(this.#tail.length - TAIL_BYTES);
    this.#splitter.push(chunk, (unit) => this.units.push(unit));
    this.#notify();
  }

  #onStderr(chunk: Buffer): void {
    const s = this.stderr;
    s.bytes += chunk.length;
    const text = this.#stderrLine + this.#stderrText.write(chunk);
    const lines = text.split('\n');
    this.#stderrLine = (lines.pop() ?? '').slice(0, STDERR_KEEP_CHARS);
    for (const line of lines) this.#stderrPush(line);
  }

  #stderrPush(line: string): void {
    const s = this.stderr;
    const kept = line.replace(/\r$/, '').slice(0, STDERR_KEEP_CHARS);
    s.lines++;
    if (s.first.length < STDERR_KEEP_LINES) s.first.push(kept);
    if (kept.trim() !== '') s.last = kept;
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#stderrLine !== '') {
      this.#stderrPush(this.#stderrLine);
      this.#stderrLine = '';
    }
    this.#notify();
  }

  #notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }
}
