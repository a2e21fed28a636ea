/**
 * The FIFO of jobs waiting for an idle process (DESIGN.md rule 6). A tiny interface in the
 * manner of p-queue's `source/queue.ts`, so the policy can change without touching the pool.
 *
 * A doubly linked list: a job that settles while waiting (queue timeout, abort) unlinks itself
 * at once, so every operation is O(1) whatever the queue limit (up to a million) and the
 * list never holds a job that gave up.
 */
import type { Job } from './job.js';

interface Node {
  readonly job: Job;
  prev: Node | null;
  next: Node | null;
}

export class JobQueue {
  #first: Node | null = null;
  #last: Node | null = null;
  #size = 0;

  /** Jobs waiting. */
  get size(): number {
    return this.#size;
  }

  push(job: Job): void {
    const node: Node = { job, prev: this.#last, next: null };
    if (this.#last === null) this.#first = node;
    else this.#last.next = node;
    this.#last = node;
    this.#size++;
    // A job settles once and is dequeued at most once, so its node is unlinked at most once.
    job.queuedIn({ left: () => this.#unlink(node) });
  }

  /** The oldest job waiting, or undefined. */
  shift(): Job | undefined {
    const node = this.#first;
    if (node === null) return undefined;
    this.#unlink(node);
    node.job.dequeued();
    return node.job;
  }

  /** Remove and return every waiting job, oldest first. */
  drain(): Job[] {
    const out: Job[] = [];
    for (let node = this.#first; node !== null; node = node.next) out.push(node.job);
    this.#first = null;
    this.#last = null;
    this.#size = 0;
    for (const job of out) job.dequeued();
    return out;
  }

  #unlink(node: Node): void {
    if (node.prev === null) this.#first = node.next;
    else node.prev.next = node.next;
    if (node.next === null) this.#last = node.prev;
    else node.next.prev = node.prev;
    this.#size--;
  }
}
