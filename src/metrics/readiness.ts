/**
 * Readiness (`/readyz`): ready when every engine has a process that has started and serves
 * (idle or busy, so at least one live process), and the store, if any, answers a cheap read.
 * Liveness (`/healthz`) is separate: a process waiting for its script to come back is alive.
 *
 * A script that dies at start may look ready for a moment (the pool's start-up quiet period
 * can end before an interpreter has even loaded the script), so at first start and after
 * start-up failures (stats().failures > 0; the pool resets that count only when a process
 * that answered ends) an engine is ready only once one of its processes has served for at
 * least `settleMs` (by the process's own ready time, not by when a probe first saw it, so the
 * first probe after a configuration reload, whose pools settled before they were swapped in,
 * is answered ready). Once a pool has run (restarts > 0, no failure since), a replacement is
 * trusted at once.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import type { OAuthStore } from '../storage/port.js';
import type { NamedEngine } from './extauth.js';

export interface NotReady {
  readonly check: 'extauth' | 'storage';
  /** The engine's name (extauth checks only). */
  readonly engine?: string;
  readonly reason: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly failing: readonly NotReady[];
}

export interface ReadinessOptions {
  /** The engines serving now (a configuration reload replaces them). */
  readonly engines: () => readonly NamedEngine[];
  readonly store?: OAuthStore | undefined;
  readonly logger: Logger;
  /** How long the store may take to answer. */
  readonly storageTimeoutMs?: number;
  /** After start-up failures, how long a process must have been seen before it counts. */
  readonly settleMs?: number;
}

/** A check to run per probe; logs only when readiness changes, not on every probe. */
export function readinessCheck(options: ReadinessOptions): () => Promise<Readiness> {
  const { engines, store, logger } = options;
  const timeoutMs = options.storageTimeoutMs ?? 2000;
  const settleMs = options.settleMs ?? 1000;
  let wasReady: boolean | null = null;
  return async () => {
    const now = Date.now();
    const failing: NotReady[] = [];
    for (const { name, engine } of engines()) {
      const s = engine.stats();
      const settled = engine.servingSince().some((since) => now - since >= settleMs);
      const serving = s.idle + s.busy > 0;
      if (serving && (settled || (s.failures === 0 && s.restarts > 0))) continue;
      const failures = s.failures > 0 ? `${s.failures} consecutive failures` : '';
      const reason = serving
        ? `auth script ${failures ? `restarting after ${failures}` : 'starting'}: no process up for ${settleMs} ms yet`
        : s.live > 0
          ? `no auth script process ready (${s.live} starting${failures ? `, ${failures}` : ''})`
          : `no auth script process running${failures ? ` (${failures})` : ''}`;
      failing.push({ check: 'extauth', engine: name, reason });
    }
    let storageError: string | null = null;
    if (store !== undefined) {
      storageError = await probeStore(store, timeoutMs);
      if (storageError !== null) failing.push({ check: 'storage', reason: storageError === 'timeout' ? `no answer within ${timeoutMs} ms` : 'read failed' });
    }
    const ready = failing.length === 0;
    if (ready !== wasReady) {
      if (ready) logger.info({}, 'ready');
      else logger.warn({ failing, storageError: storageError ?? undefined }, 'not ready');
      wasReady = ready;
    }
    return { ready, failing };
  };
}

/** null when the store answered; 'timeout' or the error's message otherwise. */
async function probeStore(store: OAuthStore, timeoutMs: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const read = store.getGrant(`readyz-${randomUUID()}`).then(
      () => null,
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    return await Promise.race([read, late]);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}
