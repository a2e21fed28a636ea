/**
 * Restart delays for a program that keeps dying before it answers anything (DESIGN.md rule 5).
 * The first replacement starts at once; each further consecutive failure doubles the delay up
 * to a cap. One answered query resets it.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #failures = 0;

  constructor(initialMs: number, maxMs: number) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.#failures;
  }

  /** Record a failure; returns the delay before the next start. */
  fail(): number {
    this.#failures++;
    if (this.#failures === 1) return 0;
    return Math.min(this.#initialMs * 2 ** Math.min(this.#failures - 2, 30), this.#maxMs);
  }

  /** Record a success; returns how many failures it ends. */
  succeed(): number {
    const n = this.#failures;
    this.#failures = 0;
    return n;
  }
}
