#!/usr/bin/env node
// Mutation testing of the security core, one group of mutation/groups.mjs after another.
//   node scripts/mutate.mjs                       every group
//   node scripts/mutate.mjs --group oauth-token   one group (repeatable)
//   node scripts/mutate.mjs src/oauth/authorize/pkce.ts     only these files, in the groups that hold them
//   node scripts/mutate.mjs src/a.ts:40-90        only these lines of a file
//   node scripts/mutate.mjs --incremental ...     reuse the last results of unchanged code and tests
//   node scripts/mutate.mjs --tests bridge/modules,bridge/lockstep-stall src/bridge/lockstep.ts
//                                                 only these of the group's test files (a quicker,
//                                                 partial measure: a survivor may die in the others)
// Reports land in reports/mutation/<group>.{json,html}; the summary table is printed at the end.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GROUPS } from '../mutation/groups.mjs';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const incremental = args.includes('--incremental');
const wanted = [];
const files = [];
let tests = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--incremental') continue;
  if (args[i] === '--group') wanted.push(args[++i]);
  else if (args[i] === '--tests') tests = (args[++i] ?? '').split(',').filter((t) => t !== '');
  else if (args[i].startsWith('-')) usage(`unknown option ${args[i]}`);
  else files.push(args[i].replace(/^\.\//, ''));
}
function usage(why) {
  console.error(`${why}\nusage: node scripts/mutate.mjs [--incremental] [--group NAME]... [--tests T1,T2] [src/FILE.ts[:FROM-TO]]...\ngroups: ${GROUPS.map((g) => g.name).join(', ')}`);
  process.exit(2);
}
for (const w of wanted) if (!GROUPS.some((g) => g.name === w)) usage(`no group ${w}`);
if (tests !== null && tests.length === 0) usage('--tests needs test files, as in mutation/groups.mjs');

/**
 * A source file (optionally with Stryker's `:FROM-TO` line range) matches a group's pattern
 * exactly or as `dir/*.ts`.
 */
function covers(pattern, fileWithRange) {
  const file = fileWithRange.replace(/:\d+(-\d+)?$/, '');
  return pattern === file || (pattern.endsWith('/*.ts') && file.startsWith(pattern.slice(0, -4)) && !file.slice(pattern.length - 4).includes('/'));
}

const runs = [];
for (const g of GROUPS) {
  if (wanted.length > 0 && !wanted.includes(g.name)) continue;
  const mine = files.filter((f) => g.mutate.some((p) => covers(p, f)));
  if (files.length > 0 && mine.length === 0) continue;
  const foreign = (tests ?? []).filter((t) => !g.tests.includes(t));
  if (foreign.length > 0) usage(`not test files of ${g.name}: ${foreign.join(', ')}`);
  runs.push({ group: g, files: mine });
}
const orphans = files.filter((f) => !GROUPS.some((g) => g.mutate.some((p) => covers(p, f))));
if (orphans.length > 0) usage(`not in any group: ${orphans.join(', ')}`);
if (runs.length === 0) usage('nothing to run');

const summary = [];
for (const { group, files: mine } of runs) {
  console.log(`\n== ${group.name}: ${mine.length > 0 ? mine.join(', ') : group.mutate.join(', ')}${tests === null ? '' : ` (tests: ${tests.join(', ')})`}`);
  const r = spawnSync(process.execPath, [join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js'), 'run', 'stryker.config.mjs', ...(incremental ? ['--incremental'] : [])], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, GATEHOUSE_MUTATION_GROUP: group.name, GATEHOUSE_MUTATION_FILES: mine.join(','), GATEHOUSE_MUTATION_TESTS: (tests ?? []).join(',') },
  });
  if (r.status !== 0) {
    console.error(`${group.name}: stryker exited with ${r.status ?? r.signal}`);
    process.exitCode = 1;
    continue;
  }
  summary.push(score(group.name));
}
console.log('\n| group | mutants | killed | survived | score |\n|---|---|---|---|---|');
for (const s of summary) console.log(`| ${s.name} | ${s.mutants} | ${s.killed} | ${s.survived} | ${s.score} |`);

/** Killed counts timeouts (the mutant hung the tests); survived counts mutants no test ran. */
function score(name) {
  const report = JSON.parse(readFileSync(join(root, 'reports/mutation', `${name}.json`), 'utf8'));
  const all = Object.values(report.files).flatMap((f) => f.mutants);
  const valid = all.filter((m) => m.status !== 'CompileError' && m.status !== 'RuntimeError' && m.status !== 'Ignored');
  const killed = valid.filter((m) => m.status === 'Killed' || m.status === 'Timeout').length;
  const survived = valid.length - killed;
  return { name, mutants: valid.length, killed, survived, score: valid.length === 0 ? 'n/a' : `${((100 * killed) / valid.length).toFixed(1)}%` };
}
