/**
 * `gatehouse check-script`, run for real through the CLI against real scripts: every example
 * must pass, and every broken fixture must fail with exactly the finding ids it deserves.
 * Cases run a few at a time; the slow ones use short timeouts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FindingIds } from '../../src/checkscript/findings.js';
import { example, fixture, GATEHOUSE_BIN, ROOT } from '../helpers/paths.js';

/**
 * The interpreter itself rather than `python3` on PATH, which may be a version-manager shim
 * costing a few hundred milliseconds per start; the checker starts many processes.
 */
const PYTHON = (() => {
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : 'python3';
})();

const ALICE = ['--user', 'alice', '--host', 'localhost', '--password', 'wonderland'];

interface JsonReport {
  ok: boolean;
  probes: { id: string; status: string; note: string }[];
  findings: { id: string; severity: string; message: string; probes: string[]; count: number }[];
  latency: { count: number; p50: number; p95: number; p99: number; max: number } | null;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `gatehouse check-script ARGS` (no shell) and collect its output. */
function checkScript(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GATEHOUSE_BIN, 'check-script', ...args], {
      cwd: ROOT,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function checkJson(args: readonly string[]): Promise<{ run: Run; report: JsonReport }> {
  const run = await checkScript(['--json', ...args]);
  let report: JsonReport;
  try {
    report = JSON.parse(run.stdout) as JsonReport;
  } catch {
    assert.fail(`not JSON (exit ${run.code}): ${run.stdout}\n${run.stderr}`);
  }
  return { run, report };
}

function ids(report: JsonReport, severity: string): string[] {
  return report.findings.filter((f) => f.severity === severity).map((f) => f.id).sort();
}

/** PIDs of live processes whose command line mentions `needle`. */
function processesWith(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && cmdline.includes(needle)) found.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

interface Case {
  readonly name: string;
  readonly args: readonly string[];
  /** Finding ids of severity fail, sorted; [] for a script that must pass. */
  readonly fails: readonly string[];
  readonly warns?: readonly string[];
  readonly check?: (report: JsonReport, run: Run) => void;
}

const ALL_PROBES = [
  'reply-format',
  'random-user-accepted',
  'known-user',
  'colon-password',
  'utf8-password',
  'control-char-password',
  'long-input',
  'unknown-command',
  'back-to-back',
  'latency',
  'eof-exit',
];

/** The check must leave nothing behind, even of a script that ignores EOF or hangs mid-query. */
function assertReaped(script: string): void {
  assert.deepEqual(processesWith(script), [], `${script} outlived the check`);
}

const py = (...parts: string[]): string[] => [PYTHON, fixture('broken', ...parts)];

const EXAMPLES: readonly Case[] = [
  { name: 'auth_users.py (generic, hashed users file)', args: [...ALICE, '--', PYTHON, example('scripts', 'auth_users.py')], fails: [] },
  {
    name: 'auth_users.py without a known account',
    args: ['--', PYTHON, example('scripts', 'auth_users.py')],
    fails: [],
    check: (r) => assert.equal(r.probes.find((p) => p.id === 'known-user')?.status, 'skip'),
  },
  {
    name: 'auth_users_ejabberd.py (ejabberd, hashed users file)',
    args: ['--protocol', 'ejabberd', '--user', 'bob', '--host', 'localhost', '--password', 'builder', '--', PYTHON, example('scripts', 'auth_users_ejabberd.py')],
    fails: [],
  },
  { name: 'auth_static.sh (generic, POSIX sh)', args: [...ALICE, '--', 'sh', example('scripts', 'auth_static.sh')], fails: [] },
  {
    name: 'auth_static.pl (ejabberd, Perl), every probe run',
    // What follows `--` is the script's, even when it looks like one of our options.
    args: ['--protocol', 'ejabberd', ...ALICE, '--', 'perl', example('scripts', 'auth_static.pl'), '--protocol', 'generic'],
    fails: [],
    check: (r) => {
      assert.deepEqual(r.probes.map((p) => p.id), ALL_PROBES);
      assert.ok(r.probes.every((p) => p.status === 'pass'), JSON.stringify(r.probes));
      assert.equal(r.latency?.count, 200);
      assert.ok(r.latency.p50 <= r.latency.p95 && r.latency.p95 <= r.latency.p99 && r.latency.p99 <= r.latency.max);
    },
  },
  { name: 'auth_static.mjs (generic, Node)', args: [...ALICE, '--', process.execPath, example('scripts', 'auth_static.mjs')], fails: [] },
];

const BROKEN: readonly Case[] = [
  {
    name: 'echo_password.py echoes the query',
    args: [...ALICE, '--', ...py('echo_password.py')],
    fails: ['reply-format'],
    // The report must not become the leak: the known password is redacted everywhere.
    check: (_r, run) => assert.ok(!run.stdout.includes('wonderland'), 'the password appears in the report'),
  },
  {
    name: 'always_yes.sh says 1 to everything',
    args: ['--', 'sh', fixture('broken', 'always_yes.sh')],
    fails: ['random-user-accepted', 'unknown-command'],
    warns: ['random-user-exists'],
  },
  { name: 'extra_reply.py answers twice', args: ['--', ...py('extra_reply.py')], fails: ['extra-reply'] },
  { name: 'chatty_stdout.py prints a banner', args: [...ALICE, '--', ...py('chatty_stdout.py')], fails: ['unsolicited-output'] },
  {
    name: 'no_eof_exit.py spins on EOF',
    args: ['--', ...py('no_eof_exit.py')],
    fails: ['eof-exit'],
    check: (r) => {
      assert.match(r.findings.find((f) => f.id === 'eof-exit')!.message, /still running .* after its stdin was closed.*\d+% CPU/);
      assertReaped(fixture('broken', 'no_eof_exit.py'));
    },
  },
  {
    name: 'crlf_ok.py answers with \\r\\n, which is allowed',
    args: [...ALICE, '--', ...py('crlf_ok.py')],
    fails: [],
    check: (r) => assert.deepEqual(ids(r, 'info').filter((id) => id === 'reply-format'), ['reply-format']),
  },
  {
    name: 'slow.py answers after the timeout',
    args: ['--timeout', '0.3', '--', ...py('slow.py')],
    fails: ['reply-timeout'],
    check: (r) => {
      // Nothing more is asked of a script that does not answer; its exit on EOF still is.
      assert.equal(r.probes.find((p) => p.id === 'back-to-back')?.status, 'skip');
      assert.equal(r.probes.find((p) => p.id === 'eof-exit')?.status, 'pass');
      assertReaped(fixture('broken', 'slow.py'));
    },
  },
  {
    name: 'ejabberd_wrong_len.py answers 00 01 01',
    args: ['--protocol', 'ejabberd', '--', ...py('ejabberd_wrong_len.py')],
    fails: ['reply-format'],
    check: (r) => assert.match(r.findings.find((f) => f.id === 'reply-format')!.message, /00 01 00/),
  },
  {
    name: 'unknown_crash.py crashes on an unknown command',
    args: ['--', ...py('unknown_crash.py')],
    fails: ['unknown-command'],
    // The traceback went to stderr: a fact worth telling, not a failure.
    check: (r) => assert.ok(ids(r, 'info').includes('stderr-mixed')),
  },
  { name: 'stdout_errors.py writes errors to stdout', args: ['--', ...py('stdout_errors.py')], fails: ['stderr-mixed'] },
  { name: 'colon_split.py cuts the password at ":"', args: [...ALICE, '--', ...py('colon_split.py')], fails: ['colon-password'] },
  { name: 'strip_password.py strip()s control characters', args: [...ALICE, '--', ...py('strip_password.py')], fails: ['control-char-password'] },
  { name: 'first_line_only.py drops queries read together', args: ['--timeout', '0.5', '--', ...py('first_line_only.py')], fails: ['back-to-back'] },
  { name: 'ascii_only.py crashes on UTF-8', args: ['--', ...py('ascii_only.py')], fails: ['utf8-password'] },
  {
    name: 'a generic script checked as ejabberd gets a protocol hint',
    args: ['--protocol', 'ejabberd', '--timeout', '0.3', '--', PYTHON, example('scripts', 'auth_users.py')],
    fails: ['reply-timeout'],
    check: (r) => assert.match(r.findings.find((f) => f.id === 'reply-timeout')!.message, /--protocol generic/),
  },
  { name: 'a program that does not exist', args: ['--', fixture('broken', 'no-such-script')], fails: ['spawn-failed'] },
  { name: 'a program that exits at start', args: ['--', PYTHON, '-c', 'import sys; sys.exit(3)'], fails: ['exited'] },
];

/** Text output: one line per probe, findings below, the verdict last. */
async function textReport(): Promise<void> {
  const run = await checkScript(['--', 'sh', fixture('broken', 'always_yes.sh')]);
  assert.equal(run.code, 1);
  assert.match(run.stdout, /^ {2}FAIL {2}random-user-accepted +see below$/m);
  assert.match(run.stdout, /^ {2}FAIL {2}unknown-command +answered 1 to the unknown command/m);
  assert.match(run.stdout, /^Result: FAILED: 2 failures, 1 warning \(11 probes, [\d.]+ s\)$/m);
}

async function usageErrors(): Promise<void> {
  const cases: [string[], RegExp][] = [
    [['sh', 'x.sh'], /unexpected argument "sh": put the script's command after "--"/],
    [[], /no script given/],
    [['--protocol', 'xmpp', '--', 'sh'], /--protocol must be "generic" or "ejabberd", got "xmpp"/],
    [['--timeout', '0', '--', 'sh'], /--timeout must be a number of seconds/],
    [['--timeout', 'soon', '--', 'sh'], /--timeout must be a number of seconds/],
    [['--user', 'alice', '--', 'sh'], /needs all of --user, --host and --password/],
    [['--user', 'al:ice', '--host', 'h', '--password', 'p', '--', 'sh'], /the known account cannot be sent to a script: user contains ':'/],
    [['--frobnicate', '--', 'sh'], /Unknown option '--frobnicate'/],
  ];
  await Promise.all(
    cases.map(async ([args, message]) => {
      const run = await checkScript(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '');
    }),
  );
  const help = await checkScript(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: gatehouse check-script \[options\] -- CMD \[ARGS\.\.\.\]/);
}

/** Every finding id is documented, and the documentation lists no other (fastify's errors test). */
function documentedIds(): void {
  const doc = readFileSync(join(ROOT, 'docs', 'check-script.md'), 'utf8');
  const table = doc.slice(doc.indexOf('## Finding ids'), doc.indexOf('## JSON'));
  const listed = [...table.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(listed.sort(), Object.keys(FindingIds).sort());
}

// One parent with bounded concurrency: each run mostly waits (quiet windows, timeouts), so a
// few at a time keep the file well under a minute on two cores.
test('gatehouse check-script', { concurrency: 4 }, async (t) => {
  const run = async (c: Case): Promise<void> => {
    const { run, report } = await checkJson(c.args);
    const detail = `${c.name}:\n${JSON.stringify(report.findings, null, 2)}\n${run.stderr}`;
    assert.deepEqual(ids(report, 'fail'), [...c.fails].sort(), detail);
    if (c.warns !== undefined) assert.deepEqual(ids(report, 'warn'), [...c.warns].sort(), detail);
    assert.equal(report.ok, c.fails.length === 0, detail);
    assert.equal(run.code, c.fails.length === 0 ? 0 : 1, detail);
    c.check?.(report, run);
  };
  await Promise.all([
    t.test('every finding id is documented in docs/check-script.md', documentedIds),
    t.test('usage errors exit with 2', usageErrors),
    t.test('the text report names each probe and ends with the verdict', textReport),
    ...EXAMPLES.map((c) => t.test(`example ${c.name} passes`, () => run(c))),
    ...BROKEN.map((c) => t.test(c.name, () => run(c))),
  ]);
});
