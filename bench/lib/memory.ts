/** Memory of process trees, from /proc (Linux): RSS counts shared pages once per process, PSS splits them. */
import { readdirSync, readFileSync } from 'node:fs';

export interface Memory {
  processes: number;
  rssKb: number;
  pssKb: number;
}

/** `pid` and every process below it. */
export function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** The summed RSS and PSS of these processes (those gone meanwhile are left out). */
export function memoryOf(pids: number[]): Memory {
  const m: Memory = { processes: 0, rssKb: 0, pssKb: 0 };
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
      m.rssKb += field('Rss');
      m.pssKb += field('Pss');
      m.processes++;
    } catch {
      /* gone meanwhile */
    }
  }
  return m;
}
