/**
 * `npm run bench`: every benchmark, each printing its baseline measured in the same run.
 * `npm run bench -- --quick` shortens every run (for a smoke check, not for numbers).
 */
import { cpus } from 'node:os';
import { runEjabberdBench } from './ejabberd.js';
import { runExtauthBench } from './extauth.js';
import { runOAuthBench } from './oauth.js';
import { runScaleBench } from './scale.js';

const quick = process.argv.includes('--quick');
console.log(`# Gatehouse benchmarks\n\nNode ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${new Date().toISOString()}${quick ? ', quick mode' : ''}`);
await runExtauthBench(quick);
await runEjabberdBench(quick);
await runOAuthBench(quick);
await runScaleBench(quick);
