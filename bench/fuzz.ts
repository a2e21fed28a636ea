/**
 * `npm run fuzz`: the long fuzzing campaign (issue 13) over the same properties the test
 * suite runs briefly (test/fuzz/properties.ts, test/fuzz/servers.ts): every parser, then
 * every HTTP route and the Dovecot face of real servers with a real auth script. Prints the
 * cases run, the time, memory before and after, and every finding (a failed property with
 * fast-check's shrunk counterexample and seed, to replay).
 *
 *   npm run fuzz -- --parser-cases 150000 --http-cases 20000 --dovecot-cases 5000 --seed 42
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Accounts } from '../src/accounts/accounts.js';
import { parseConfigText } from '../src/config/load.js';
import { DovecotAuthServer } from '../src/dovecot/server.js';
import { startOAuth } from '../test/helpers/oauth.js';
import { fixture } from '../test/helpers/paths.js';
import { parserProperties } from '../test/fuzz/properties.js';
import { fuzzDovecot, fuzzRoutes, type RouteFuzzStats } from '../test/fuzz/servers.js';

const { values } = parseArgs({
  options: {
    'parser-cases': { type: 'string', default: '150000' },
    'http-cases': { type: 'string', default: '20000' },
    'dovecot-cases': { type: 'string', default: '5000' },
    seed: { type: 'string' },
  },
});
const parserCases = Number(values['parser-cases']);
const httpCases = Number(values['http-cases']);
const dovecotCases = Number(values['dovecot-cases']);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
const findings: string[] = [];
const rows: string[] = [];

async function timed(name: string, cases: number, run: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  let outcome = 'ok';
  try {
    await run();
  } catch (err) {
    outcome = 'FINDING';
    findings.push(`${name}: ${(err as Error).message}`);
  }
  const s = (performance.now() - t0) / 1000;
  rows.push(`| ${name} | ${cases.toLocaleString('en')} | ${s.toFixed(1)} s | ${outcome} |`);
  console.error(`${name}: ${cases} cases, ${s.toFixed(1)} s, ${outcome}`);
}

/** Collects what a test would clean up (startOAuth registers its cleanup with `after`). */
const cleanups: (() => unknown)[] = [];
const context = { after: (fn: () => unknown) => void cleanups.push(fn) } as unknown as Parameters<typeof startOAuth>[0];

const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
for (const property of parserProperties()) await timed(property.name, parserCases, () => property.run(parserCases, seed));

const oauth = await startOAuth(context, 'oauth2_registration_rate_limit = 1000000\noauth2_token_rate_limit = 1000000', { dataDir: mkdtempSync(join(tmpdir(), 'gh-fuzz-')) });
const stats: RouteFuzzStats = { requests: 0, byStatus: {} };
const heapBeforeHttp = process.memoryUsage().heapUsed;
await timed('every HTTP route (OAuth host, auth API, operations)', httpCases, () => fuzzRoutes({ origin: oauth.origin, issuerPath: '/localhost' }, httpCases, { seed, stats }));
const serverErrors = oauth.log.entries.filter((e) => e.level === 'error');
if (serverErrors.length > 0) findings.push(`server logged ${serverErrors.length} errors, first: ${serverErrors[0]!.msg} ${JSON.stringify(serverErrors[0]!.obj)}`);
global.gc?.();
const heapAfterHttp = process.memoryUsage().heapUsed;

const config = parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]\nauth_failure_limit_user = 0\nauth_failure_limit_address = 0`);
const accounts = new Accounts(config);
const dovecot = new DovecotAuthServer({ accounts, defaultHost: 'localhost' });
const { port } = await dovecot.listen({ port: 0 });
await timed('Dovecot face (protocol lines, PLAIN and LOGIN)', dovecotCases, () => fuzzDovecot(port!, dovecotCases, { seed }));
await dovecot.close();
await accounts.close();
for (const fn of cleanups.reverse()) await fn();

const total = (performance.now() - t0) / 1000;
console.log(`# Fuzzing campaign\n\nNode ${process.version}, seed ${seed}, ${new Date().toISOString()}, ${total.toFixed(0)} s in all\n`);
console.log('| property | cases | time | result |\n|---|---|---|---|');
for (const r of rows) console.log(r);
console.log(`\nHTTP answers by status: ${Object.entries(stats.byStatus).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
console.log(`Memory: RSS ${mb(rssBefore)} at start, ${mb(process.memoryUsage().rss)} at the end; heap ${mb(heapBeforeHttp)} before the HTTP run, ${mb(heapAfterHttp)} after it`);
console.log(`Findings: ${findings.length === 0 ? 'none' : `\n${findings.map((f) => `- ${f}`).join('\n')}`}`);
process.exitCode = findings.length === 0 ? 0 : 1;
