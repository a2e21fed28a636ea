/** The process logger: pino, JSON lines on stderr (stdout may carry a protocol). */
import { pino } from 'pino';
import type { LogLevel } from '../config/keys.js';
import type { Logger } from './logger.js';

export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, ...bindings },
      // Defence in depth for rule 8: should a password or token ever reach a log call.
      redact: { paths: ['password', 'pass', 'token', '*.password', '*.pass', '*.token'], censor: '[redacted]' },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
