/**
 * `npm run bench`: every benchmark, each printing its baseline measured in the same run.
 * `npm run bench -- --quick` shortens every run (for a smoke check, not for numbers);
 * `npm run bench -- --only extauth,oauth` runs only those.
 */
import { cpus } from 'node:os';
import { runEjabberdBench } from './ejabberd.js';
import { runExtauthBench } from './extauth.js';
import { runImapBench } from './imap.js';
import { runOAuthBench } from './oauth.js';
import { runScaleBench } from './scale.js';
import { runServeMemoryBench } from './serve-memory.js';

const quick = process.argv.includes('--quick');
// `--only extauth,oauth` (names below) runs some of them; every one by default.
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt === -1 ? null : new Set((process.argv[onlyAt + 1] ?? '').split(','));
const BENCHES: [string, (quick: boolean) => Promise<void>][] = [
  ['extauth', runExtauthBench],
  ['ejabberd', runEjabberdBench],
  ['serve-memory', runServeMemoryBench],
  ['oauth', runOAuthBench],
  ['imap', runImapBench],
  ['scale', runScaleBench],
];
const unknown = only === null ? [] : [...only].filter((n) => !BENCHES.some(([name]) => name === n));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHES.map(([n]) => n).join(', ')}`);
  process.exit(2);
}
console.log(`# Gatehouse benchmarks\n\nNode ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${new Date().toISOString()}${quick ? ', quick mode' : ''}`);
for (const [name, run] of BENCHES) if (only === null || only.has(name)) await run(quick);
