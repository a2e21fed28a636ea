/** The process logger: pino, JSON lines on stderr (stdout may carry a protocol) or in a file. */
import { isatty } from 'node:tty';
import { pino } from 'pino';
import type { Logger, LogLevel } from './logger.js';

export interface LogTarget {
  /** Append to this file (log_file) instead of writing to stderr. */
  readonly file?: string | null | undefined;
  /**
   * Never write to stderr when it is a terminal: a bridge run by Prosody's pty module shares
   * one terminal for stdout and stderr, and Prosody reads whatever is there as the answer to
   * a login. Without a file, such a process logs nothing.
   */
  readonly notOnTerminal?: boolean | undefined;
}

/**
 * `bindings` go on every line; pino writes a child's binding beside its parent's rather than
 * over it, so the process binds `command` (serve, extauth) and each face's child `face`
 * (http, dovecot, oauth, reload...), never the same key twice.
 */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}, target: LogTarget = {}): Logger {
  const toFile = target.file !== null && target.file !== undefined;
  const silent = !toFile && target.notOnTerminal === true && isatty(2);
  return pino(
    {
      level: silent ? 'silent' : level,
      base: { pid: process.pid, ...bindings },
      // Defence in depth for rule 8: should a password or token ever reach a log call.
      redact: { paths: ['password', 'pass', 'token', '*.password', '*.pass', '*.token'], censor: '[redacted]' },
    },
    toFile ? pino.destination({ dest: target.file!, sync: true, append: true, mkdir: true }) : pino.destination({ dest: 2, sync: true }),
  );
}
