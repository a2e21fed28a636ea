/**
 * What check-script reports: findings with a stable id, a severity and a human message. The
 * ids are part of the command's interface (`--json`, docs/check-script.md), like error codes:
 * rename one and every operator's CI breaks. The catalogue below is the single list of them.
 */

export const FindingIds = {
  'spawn-failed': 'the program could not be started',
  exited: 'the script exited at start, or on an ordinary query',
  'reply-timeout': 'no reply to an ordinary query within the timeout',
  'reply-format': 'replies are exactly what the protocol allows',
  'extra-reply': 'one reply per query, nothing more',
  'unsolicited-output': 'nothing written to stdout without a query',
  'stderr-mixed': 'diagnostics go to stderr, never into the replies',
  'random-user-accepted': 'auth of an unknown user with a random password is answered 0',
  'random-user-exists': 'isuser of an unknown user is answered 0',
  'known-user': 'the given account: right password 1, wrong password 0, isuser 1',
  'colon-password': 'passwords containing ":" are read whole',
  'utf8-password': 'UTF-8 passwords are handled',
  'control-char-password': 'control characters inside passwords are handled',
  'long-input': 'long passwords and names, up to the query limit, are handled',
  'unknown-command': 'unknown commands are answered 0',
  'back-to-back': 'many queries arriving in one read are all answered, in order',
  latency: 'reply times over sequential queries',
  'eof-exit': 'the script exits when its stdin is closed',
} as const;

export type FindingId = keyof typeof FindingIds;

/** fail: the engine would misbehave or be unsafe with it; warn: questionable; info: facts. */
export type Severity = 'fail' | 'warn' | 'info';

export interface Finding {
  readonly id: FindingId;
  readonly severity: Severity;
  /** The first occurrence's message; later ones only add to `probes` and `count`. */
  readonly message: string;
  /** Probes during which it was seen, in order. */
  readonly probes: string[];
  count: number;
}

const RANK: Readonly<Record<Severity, number>> = { fail: 0, warn: 1, info: 2 };

/**
 * Findings of one run. The same problem seen by several probes (an echoing script breaks
 * every reply) is one finding, not ten: it is merged by id and severity.
 */
export class Findings {
  readonly #byKey = new Map<string, Finding>();

  add(id: FindingId, severity: Severity, message: string, probe: string): void {
    const key = `${id}\0${severity}`;
    const seen = this.#byKey.get(key);
    if (seen !== undefined) {
      seen.count++;
      if (!seen.probes.includes(probe)) seen.probes.push(probe);
      return;
    }
    this.#byKey.set(key, { id, severity, message, probes: [probe], count: 1 });
  }

  has(id: FindingId, severity?: Severity): boolean {
    for (const f of this.#byKey.values()) if (f.id === id && (severity === undefined || f.severity === severity)) return true;
    return false;
  }

  /** Failures first, then warnings, then information; otherwise in the order seen. */
  list(): Finding[] {
    return [...this.#byKey.values()].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  }
}
