/**
 * An ejabberd extauth worker's program (a connector, a bridge) as ejabberd runs it: fed frames on
 * stdin, its 4-byte answers read from stdout in order.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** One ejabberd frame: 2 bytes of length, then the query. */
export function frame(query: string | Buffer): Buffer {
  const body = typeof query === 'string' ? Buffer.from(query) : query;
  const head = Buffer.alloc(2);
  head.writeUInt16BE(body.length);
  return Buffer.concat([head, body]);
}

/** A worker's program, fed on stdin, its answers read from stdout in order. */
export class Worker {
  readonly child: ChildProcess;
  #out = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(program: string, args: string[]) {
    this.child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.#out = Buffer.concat([this.#out, d]);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.child.stdin!.on('error', () => {});
    // 'close', not 'exit': the exit can be seen before the last of stderr has been read.
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
  }

  /** Sends one query and reads its 4-byte answer (a generous bound: never a timing claim). */
  ask(query: string | Buffer, withinMs = 30_000): Promise<Buffer> {
    this.child.stdin!.write(frame(query));
    return this.read(withinMs);
  }

  /** Reads the next 4-byte answer. */
  async read(withinMs = 30_000): Promise<Buffer> {
    const end = Date.now() + withinMs;
    while (this.#out.length < 4) {
      if (this.child.exitCode !== null) throw new Error(`connector exited ${this.child.exitCode}: ${this.stderr}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error('no answer from the connector');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const answer = this.#out.subarray(0, 4);
    this.#out = this.#out.subarray(4);
    return Buffer.from(answer);
  }

  /** Bytes written beyond the answers read so far. */
  get extra(): number {
    return this.#out.length;
  }
}

