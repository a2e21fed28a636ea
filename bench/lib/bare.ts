/**
 * The baseline: a bare driver that writes a query to the script's stdin and reads the reply
 * from its stdout, nothing else (no validation, no timeout, no queue). What a pipe and the
 * script can do at best from this same Node process: the physical limit the engine is
 * measured against.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export class BareDriver {
  readonly #child: ChildProcess;
  #resolve: ((reply: Buffer) => void) | null = null;

  constructor(argv: readonly string[]) {
    const [file, ...args] = argv as [string, ...string[]];
    // Spawned as the engine spawns its scripts (detached: its own session and process group),
    // so that both sides get the same scheduling; only the engine's own work differs.
    this.#child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      const r = this.#resolve;
      this.#resolve = null;
      r?.(chunk);
    });
  }

  /** One round trip. Assumes one reply per read, which holds for these scripts. */
  query(frame: Buffer): Promise<Buffer> {
    return new Promise((resolve) => {
      this.#resolve = resolve;
      this.#child.stdin!.write(frame);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#child.once('exit', () => resolve());
      this.#child.stdin!.end();
    });
  }
}
