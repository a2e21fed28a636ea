/** Percentiles and table printing for the benchmarks. */

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function sortedCopy(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

/** Print rows as a Markdown table (so it can be pasted into notes and the README). */
export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of cells.slice(1)) console.log(line(r));
}

export const fmt = {
  us: (ms: number): string => `${(ms * 1000).toFixed(1)} µs`,
  rate: (n: number): string => `${Math.round(n).toLocaleString('en-US')}/s`,
  pct: (x: number): string => `${(x * 100).toFixed(1)}%`,
};
