/** CPU time of processes, from /proc (Linux): what a row of a benchmark cost the machine, and where. */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User plus system CPU time of one process so far, ms (0 once it is gone). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": state is field 0, utime 11, stime 12 (proc(5), fields 14 and 15).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The summed CPU time of these processes, ms. */
export const cpuOf = (pids: readonly number[]): number => pids.reduce((n, pid) => n + cpuMs(pid), 0);

/** The first ancestor of `pid` (or itself) whose command name starts with `comm`, or null. */
export function ancestorNamed(pid: number, comm: string): number | null {
  for (let p = pid, hops = 0; p > 1 && hops < 16; hops++) {
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').startsWith(comm)) return p;
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return null;
    }
  }
  return null;
}
