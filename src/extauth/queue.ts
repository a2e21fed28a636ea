/**
 * The FIFO of jobs waiting for an idle process (DESIGN.md rule 6). A tiny interface in the
 * manner of p-queue's `source/queue.ts`, so the policy can change without touching the pool.
 * Jobs that settled while waiting (queue timeout, abort) are skipped lazily and compacted
 * away, so the array never outgrows the live jobs by much.
 */
import type { Job } from './job.js';

export class JobQueue {
  #items: (Job | undefined)[] = [];
  #head = 0;
  #live = 0;

  /** Jobs still waiting (settled ones are not counted). */
  get size(): number {
    return this.#live;
  }

  push(job: Job): void {
    this.#items.push(job);
    this.#live++;
    job.queuedIn(this);
  }

  /** A waiting job settled (queue timeout, abort): it no longer counts. */
  left(): void {
    this.#live--;
    if (this.#live === 0 || (this.#items.length > 1024 && this.#live * 4 < this.#items.length - this.#head)) {
      this.compact();
    }
  }

  /** The oldest job still waiting, or undefined. */
  shift(): Job | undefined {
    if (this.#live === 0 && this.#items.length === 0) return undefined; // the usual case: nothing waits
    while (this.#head < this.#items.length) {
      const job = this.#items[this.#head];
      this.#items[this.#head++] = undefined;
      if (job !== undefined && !job.settled) {
        this.#live--;
        job.dequeued();
        this.#maybeCompact();
        return job;
      }
    }
    this.#items = [];
    this.#head = 0;
    return undefined;
  }

  /** Drop settled jobs when they make up most of the array. */
  compact(): void {
    this.#items = this.#items.slice(this.#head).filter((j) => j !== undefined && !j.settled);
    this.#head = 0;
  }

  /** Remove and return every waiting job. */
  drain(): Job[] {
    const out = this.#items.slice(this.#head).filter((j): j is Job => j !== undefined && !j.settled);
    this.#items = [];
    this.#head = 0;
    this.#live = 0;
    for (const job of out) job.dequeued();
    return out;
  }

  #maybeCompact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
