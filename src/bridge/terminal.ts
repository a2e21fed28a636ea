/**
 * Taking over a terminal on stdin/stdout, as Prosody's mod_auth_external_insecure hands one to
 * its program (lpty: a pty whose slave side becomes the program's fds 0, 1 and 2).
 *
 * A new pty starts in canonical mode with echo on. lpty clears ECHO in the child after fork,
 * while Prosody writes the first query as soon as fork returns; until this program sets the
 * terminal raw, the line discipline owns every byte that arrives:
 * - it may echo the query back, and Prosody takes the echo as the answer to that query (and
 *   every later answer as the answer to the login after it);
 * - it edits the line: ^U erases what came before it, ^W a word, DEL a character, ^V quotes,
 *   CR becomes LF; so a password holding `\x15isuser:bob:HOST` turns the query into another.
 * Neither can be undone or seen from this side: the echo is already in the caller's input
 * queue, out of reach of the slave (on Linux, TIOCOUTQ on a pty slave reads 0 and TCOFLUSH
 * from the slave does not remove what the master's line discipline holds), and the erased
 * bytes are gone. So whatever arrived before the terminal became raw is taken out here and
 * never answered (lockstep.ts): the caller gets its "no" from the echo or from its timeout.
 */
import { spawnSync } from 'node:child_process';
import { readSync } from 'node:fs';

/** At most this much early input is read; a caller in lockstep sends one query. */
const EARLY_MAX_BYTES = 1 << 20;

export class TerminalError extends Error {
  override readonly name = 'TerminalError';
  readonly code = 'ERR_TERMINAL_SETUP';
}

/**
 * Set the terminal on fd 0 raw (no echo, no line editing, no signals, no flow control, no
 * CR/LF rewriting in either direction) and return the bytes that were already waiting.
 * The caller must then let Node read fd 0 in raw mode (`setRawMode(true)`), which restores
 * blocking reads (VMIN 1).
 */
export function takeTerminal(): Buffer {
  // `min 0 time 0`: a read returns at once with whatever is there, so the early bytes can be
  // drained without blocking.
  const r = spawnSync('stty', ['raw', '-echo', '-opost', 'min', '0', 'time', '0'], {
    stdio: [0, 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new TerminalError(`cannot set the terminal raw (stty: ${(r.stderr || r.error?.message || `status ${r.status}`).trim()})`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.allocUnsafe(4096);
  while (total < EARLY_MAX_BYTES) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    total += n;
  }
  return Buffer.concat(chunks, total);
}
