/**
 * The Node options Gatehouse's commands run with: those of `bin/gatehouse.js`'s `#!` line
 * (a young generation of at most 4 MB per semi-space instead of V8's 16: `gatehouse serve`
 * stays about 17 MB smaller under load, for a few percent of its own CPU). A benchmark that
 * starts a command with `process.execPath` passes them too, so that it measures what an
 * operator runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The options between `node` and the script on the `#!` line of bin/gatehouse.js. */
export function gatehouseNodeFlags(): string[] {
  const first = readFileSync(join(ROOT, 'bin/gatehouse.js'), 'utf8').split('\n', 1)[0]!;
  const m = /^#!\S*env -S node((?: --?[\w-]+(?:=\S+)?)*)\s*$/.exec(first) ?? /^#!\S*env node\s*$/.exec(first);
  if (m === null) throw new Error(`bin/gatehouse.js: unexpected first line ${first}`);
  return (m[1] ?? '').split(' ').filter((f) => f !== '');
}

/** argv that runs `bin/gatehouse.js` with this Node and the bin's options. */
export function gatehouseArgv(...args: string[]): string[] {
  return [process.execPath, ...gatehouseNodeFlags(), join(ROOT, 'bin/gatehouse.js'), ...args];
}
