/**
 * Prosody's mod_auth_external_insecure on lpty, as a test peer: test/fixtures/prosody_lpty_caller.py
 * reproduces its I/O (one pty kept for the caller's life, echo cleared in the child after fork,
 * the program run as one path with no argument, one write per query, one read with a timeout
 * taken as the answer, no kill on timeout). Debian does not ship the module, so this is the
 * other party; the program behind it is the real `gatehouse-extauth`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fixture, ROOT } from './paths.js';

/** What the module makes of one read: "yes", "no", "error" (anything else read), "nil" (nothing in time). */
export type Outcome = 'yes' | 'no' | 'error' | 'nil' | 'refused';

export interface Answer {
  readonly result: Outcome;
  /** The bytes the read returned, or null when it timed out. */
  readonly raw: Buffer | null;
}

/** The no-argument bridge that goes in external_auth_command. */
export const GATEHOUSE_EXTAUTH_BIN = join(ROOT, 'bin', 'gatehouse-extauth.js');

export interface ProsodyPtyOptions {
  /** The module's external_auth_timeout, seconds (Prosody's default is 5). */
  readonly timeoutSeconds?: number;
  /** The XMPP host the module puts in every query. */
  readonly host?: string;
  /** Environment of the program (GATEHOUSE_CONFIG and the fixture script's variables). */
  readonly env?: NodeJS.ProcessEnv;
  /** The program; default: bin/gatehouse-extauth.js. */
  readonly command?: string;
  /**
   * Seconds each child waits after fork before it clears ECHO, as a child not yet scheduled
   * does: the caller's queries meanwhile reach a terminal that echoes. Default 0.
   */
  readonly childDelaySeconds?: number;
}

export class ProsodyPty {
  readonly #child: ChildProcess;
  readonly #replies: ((line: string) => void)[] = [];
  readonly #exited: Promise<void>;
  #bridgePid: number | null = null;
  #closed = false;
  /** Every exchange so far, for failure messages: what was sent, what was read, the program's pid. */
  readonly #transcript: string[] = [];
  readonly #startedAt = performance.now();

  private constructor(child: ChildProcess) {
    this.#child = child;
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => this.#replies.shift()?.(line));
    this.#exited = new Promise((resolve) => child.once('close', () => resolve()));
    child.stderr!.on('data', () => {});
  }

  /** Start the caller; the program starts with the first query, as lpty does. Ended by `t`'s cleanup. */
  static start(t: TestContext, options: ProsodyPtyOptions = {}): ProsodyPty {
    const env = {
      ...process.env,
      // The bridge's `#!/usr/bin/env node` finds the Node running the tests.
      PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      ...options.env,
    };
    const child = spawn(
      'python3',
      [
        fixture('prosody_lpty_caller.py'),
        options.command ?? GATEHOUSE_EXTAUTH_BIN,
        options.host ?? 'localhost',
        String(options.timeoutSeconds ?? 5),
        String(options.childDelaySeconds ?? 0),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], env },
    );
    const caller = new ProsodyPty(child);
    t.after(() => caller.close());
    return caller;
  }

  #ask(msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
        reject(new Error('the caller has exited'));
        return;
      }
      this.#replies.push((line) => resolve(JSON.parse(line) as Record<string, unknown>));
      this.#child.stdin!.write(`${JSON.stringify(msg)}\n`);
    });
  }

  async #answer(msg: Record<string, unknown>): Promise<Answer> {
    const r = await this.#ask(msg);
    const raw = r['raw'] === null || r['raw'] === undefined ? null : Buffer.from(r['raw'] as string, 'hex');
    const pid = await this.#ask({ op: 'pid' });
    if (typeof pid['pid'] === 'number') this.#bridgePid = pid['pid'];
    const sent = msg['op'] === 'query' ? `${String(msg['kind'])}:${String(msg['user'])}` : `send ${String(msg['hex']).length / 2} bytes`;
    this.#transcript.push(`+${Math.round(performance.now() - this.#startedAt)} ms ${sent} -> ${String(r['result'])} ${JSON.stringify(raw?.toString() ?? null)} (pid ${String(pid['pid'])})`);
    return { result: r['result'] as Outcome, raw };
  }

  /** The last `n` exchanges, one per line (each query as its kind and user; what was read, as read), for a failure message. */
  transcript(n = 12): string {
    return this.#transcript.slice(-n).join('\n');
  }

  /** A login or account query as the module builds it: `kind:user:HOST[:password]\n`, one write. */
  query(kind: string, user: string, password?: string): Promise<Answer> {
    return this.#answer(password === undefined ? { op: 'query', kind, user } : { op: 'query', kind, user, password });
  }

  auth(user: string, password: string): Promise<Answer> {
    return this.query('auth', user, password);
  }

  /** Any bytes in one write, then the module's read. */
  send(bytes: Buffer | string): Promise<Answer> {
    return this.#answer({ op: 'send', hex: Buffer.from(bytes).toString('hex') });
  }

  /** Everything the terminal gives within `seconds`, answer or not. */
  async drain(seconds: number): Promise<Buffer> {
    const r = await this.#ask({ op: 'drain', seconds });
    return Buffer.from(r['raw'] as string, 'hex');
  }

  /** Until the bridge answers `user`'s right password with yes (it is running and in step); asserts no wrong yes meanwhile. */
  async waitInStep(user: string, password: string, wrongUser: string, withinMs = 60_000): Promise<number> {
    // Bounded by time, not by a count of tries: a script that failed to start is started again
    // after a backoff that grows with its failures, and on a busy machine more of them fail
    // first, so the wait can outlast any fixed number of quick "no" answers.
    const end = Date.now() + withinMs;
    for (let i = 1; ; i++) {
      const wrong = await this.auth(wrongUser, 'not-the-password');
      if (wrong.result === 'yes') throw new Error(`wrong yes for ${wrongUser} while waiting for the bridge`);
      if ((await this.auth(user, password)).result === 'yes') return i;
      if (Date.now() > end) throw new Error(`the bridge did not answer in step within ${withinMs} ms (${i} tries)`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The bridge's pid, once one was seen running. */
  get bridgePid(): number | null {
    return this.#bridgePid;
  }

  /** endproc() (SIGTERM to the program), then make sure the caller and the program are gone. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const stopped = this.#ask({ op: 'stop' }).catch(() => undefined);
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
      await stopped;
      await this.#exited;
      clearTimeout(timer);
    }
    const pid = this.#bridgePid;
    if (pid !== null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/** A config file (and users file) in a fresh directory; returns the environment for the caller. */
export function bridgeEnv(toml: string, users: Record<string, string> = {}, host = 'localhost'): { env: NodeJS.ProcessEnv; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gh-pty-'));
  const config = join(dir, 'gatehouse.toml');
  writeFileSync(config, toml);
  const usersFile = join(dir, 'users.json');
  writeFileSync(usersFile, JSON.stringify({ [host]: users }));
  return {
    dir,
    env: { GATEHOUSE_CONFIG: config, USERS_FILE: usersFile, RECORD_FILE: join(dir, 'queries.hex') },
  };
}
