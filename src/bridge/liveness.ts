/**
 * A lower bound of when input now being read reached this process, for the lockstep bridge's
 * deadline (lockstep.ts). The caller's clock starts when it writes; this process learns of the
 * write only when it runs again. On a loaded machine a process may not run for a while (not
 * scheduled, or its event loop held up): the time of the read is then later than the write, by
 * an amount the bridge cannot see, and a deadline counted from the read lets an answer out after
 * the caller stopped waiting; the caller then reads it as the answer to its next query.
 *
 * A tick every TICK_MS records that the event loop ran. Input waiting in the kernel when a tick
 * runs is read in the same loop iteration (libuv polls for I/O right after running timers), so
 * input read now arrived after the tick before the latest one: that tick's time is the bound.
 * Normally it is at most two ticks old; after a stall it is from before the stall, and the
 * deadline counts the stall. One clock serves every lockstep conversation of the process, and
 * runs only while one is open.
 */

/** Ticks this often while a conversation is open. */
export const TICK_MS = 20;

let users = 0;
let timer: NodeJS.Timeout | undefined;
let previous = 0;
let latest = 0;

function tick(): void {
  previous = latest;
  latest = performance.now();
}

/** Starts the clock for one more conversation; call the returned function when it ends. */
export function holdLivenessClock(): () => void {
  if (users++ === 0) {
    previous = latest = performance.now();
    timer = setInterval(tick, TICK_MS);
    // The clock alone never keeps the process alive.
    timer.unref();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--users === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

/**
 * The earliest time (performance.now() ms) at which input read now may have reached the
 * process: never later than the truth, so a deadline counted from it is never late.
 */
export function arrivedNoEarlierThan(): number {
  return Math.min(previous, performance.now());
}
