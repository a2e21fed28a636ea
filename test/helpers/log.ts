/** A Logger that keeps every entry, to assert on what was (and was not) logged. */
import type { Logger } from '../../src/log/logger.js';

export interface Entry {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string | undefined;
  obj: Record<string, unknown>;
}

export class MemoryLogger implements Logger {
  readonly entries: Entry[];
  readonly #bindings: Record<string, unknown>;

  constructor(entries: Entry[] = [], bindings: Record<string, unknown> = {}) {
    this.entries = entries;
    this.#bindings = bindings;
  }

  debug(obj: object, msg?: string): void {
    this.#add('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.#add('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.#add('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.#add('error', obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new MemoryLogger(this.entries, { ...this.#bindings, ...bindings });
  }

  /** Everything logged, as one string (to search for leaked secrets). */
  text(): string {
    return this.entries.map((e) => JSON.stringify({ ...e.obj, msg: e.msg })).join('\n');
  }

  #add(level: Entry['level'], obj: object, msg?: string): void {
    this.entries.push({ level, msg, obj: { ...this.#bindings, ...(obj as Record<string, unknown>) } });
  }
}
