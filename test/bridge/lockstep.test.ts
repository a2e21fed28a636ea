/**
 * Prosody's mod_auth_external_insecure in front of `gatehouse-extauth`, attacked the way the
 * module lets a client attack it. The figure that matters is a wrong "yes": none, in every case.
 * The caller is the module's I/O reproduced on a real pty (test/helpers/prosody-pty.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeFrame16 } from '../../src/extauth/wire/frame16.js';
import { childrenOf, fixtureCommand, startBridge, writeConfig } from '../helpers/bridge.js';
import { isGone, waitFor } from '../helpers/engine.js';
import { fixture } from '../helpers/paths.js';
import { bridgeEnv, ProsodyPty } from '../helpers/prosody-pty.js';

const USERS = { alice: 'wonderland', bob: 'builder', eve: 'evepw', carol: 'carolpw' };
const script = fixtureCommand(fixture('users-file.mjs'));
/** Where the timeout itself is not under test, the module waits 2 s (and the bridge knows it). */
const QUICK = { seconds: 2, toml: 'extauth_caller_timeout = 2' };

/** What the bridge logged to `log_file = "bridge.log"` in `dir` (bridgeEnv's directory) so far. */
function bridgeLog(dir: string): string {
  const file = join(dir, 'bridge.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** Queries the script received, as text. */
function received(env: NodeJS.ProcessEnv): string[] {
  const file = env['RECORD_FILE']!;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((h) => Buffer.from(h, 'hex').toString());
}

test('a newline in a legacy-auth password cannot change another account nor answer a later login', async (t) => {
  const { env } = bridgeEnv(`${script}\nexternal_auth_processes = 1\n${QUICK.toml}`, { ...USERS });
  // A slow script: the injected second query would otherwise be answered while the first waits.
  const caller = ProsodyPty.start(t, { env: { ...env, USERS_DELAY_MS: '300' }, timeoutSeconds: QUICK.seconds });
  await caller.waitInStep('bob', 'builder', 'eve');

  // XEP-0078 hands the password to the module as is: `auth:mallory:HOST:x\nsetpass:alice:HOST:pwned\n`.
  const setpass = await caller.auth('mallory', 'x\nsetpass:alice:localhost:pwned');
  assert.equal(setpass.result, 'no');
  assert.equal(setpass.raw?.toString(), '0\n', 'exactly one answer');
  // A password that smuggles a login the attacker knows, to be read as the answer to the next one.
  const smuggled = await caller.auth('eve', 'x\nauth:carol:localhost:carolpw');
  assert.equal(smuggled.result, 'no');
  assert.equal((await caller.auth('eve', 'wrong')).result, 'no', 'no stale yes for the next login');
  assert.equal((await caller.auth('alice', 'pwned')).result, 'no', "alice's password was not changed");
  assert.equal((await caller.auth('alice', 'wonderland')).result, 'yes', 'and the answers are in step');
  assert.equal((await caller.auth('carol', 'x')).result, 'no');

  const seen = received(env);
  assert.ok(seen.includes('auth:alice:localhost:wonderland'), 'the record works (positive control)');
  assert.ok(!seen.some((q) => q.startsWith('setpass')), `no setpass reached the script: ${seen.join(' | ')}`);
  assert.ok(!seen.some((q) => q.startsWith('auth:mallory') || q === 'auth:carol:localhost:carolpw'), `no part of an injected write reached it: ${seen.join(' | ')}`);
});

test('an in-band password change with a newline changes nothing and leaves no extra answer', async (t) => {
  const { env } = bridgeEnv(`${script}\nexternal_auth_processes = 1\n${QUICK.toml}`, { ...USERS });
  const caller = ProsodyPty.start(t, { env, timeoutSeconds: QUICK.seconds });
  await caller.waitInStep('bob', 'builder', 'eve');
  const change = await caller.query('setpass', 'bob', 'newpw\nisuser:bob:localhost');
  assert.equal(change.result, 'no');
  assert.equal((await caller.auth('eve', 'wrong')).result, 'no');
  assert.equal((await caller.auth('bob', 'newpw')).result, 'no');
  assert.equal((await caller.auth('bob', 'builder')).result, 'yes');
  assert.ok(!received(env).some((q) => q.startsWith('setpass') || q.startsWith('isuser')), 'nothing of it reached the script');
});

for (const [name, extra, slowMs] of [
  ["the defaults (Gatehouse's 5 s script timeout)", '', 6000],
  ['a script timeout longer than the caller waits', 'external_auth_timeout = 10', 5500],
] as const) {
  test(`late answers never answer the next login: ${name}`, async (t) => {
    const { env } = bridgeEnv(`${script}\nexternal_auth_processes = 1\n${extra}`, { ...USERS, slowpoke: 'slowpw' });
    // Prosody's default 5 s; the script answers slowpoke after it.
    const caller = ProsodyPty.start(t, { env: { ...env, USERS_SLOW_USER: 'slowpoke', USERS_SLOW_MS: String(slowMs) } });
    await caller.waitInStep('bob', 'builder', 'eve');
    const slow = await caller.auth('slowpoke', 'slowpw');
    assert.equal(slow.result, 'nil', 'the caller gave up on it');
    // Each login right after: a stale answer would be read by one of these.
    const after = [
      ['alice', 'wonderland', 'yes'],
      ['eve', 'wrong', 'no'],
      ['carol', 'wrong', 'no'],
      ['alice', 'wonderland', 'yes'],
      ['eve', 'wrong', 'no'],
    ] as const;
    for (const [user, password, want] of after) {
      const got = await caller.auth(user, password);
      if (want === 'no') assert.notEqual(got.result, 'yes', `wrong yes for ${user}`);
      else assert.equal(got.result, want, `${user} in step`);
    }
    assert.equal((await caller.drain(1)).length, 0, 'nothing late on the terminal');
  });
}

test('a script that cannot be restarted: queries are answered in time or not at all, and never out of step', async (t) => {
  const { env, dir } = bridgeEnv(`${script}\nexternal_auth_processes = 1\n${QUICK.toml}`, { ...USERS });
  const broken = join(dir, 'broken');
  const caller = ProsodyPty.start(t, { env: { ...env, USERS_BROKEN_FILE: broken }, timeoutSeconds: QUICK.seconds });
  await caller.waitInStep('bob', 'builder', 'eve');
  writeFileSync(broken, '');
  // The script exits mid-query, and every restart dies at start.
  assert.notEqual((await caller.auth('crash', 'x')).result, 'yes');
  const outcomes: string[] = [];
  for (const [user, password] of [['eve', 'wrong'], ['alice', 'wonderland'], ['carol', 'wrong'], ['bob', 'builder'], ['eve', 'wrong']] as const) {
    const got = await caller.auth(user, password);
    outcomes.push(`${user}:${got.result}`);
    assert.notEqual(got.result, 'yes', `no answer while the script is down, got yes for ${user}`);
  }
  t.diagnostic(`while down: ${outcomes.join(' ')}`);
  // Repaired: back in step, with no stale answer in between.
  rmSync(broken);
  await caller.waitInStep('alice', 'wonderland', 'carol');
  assert.equal((await caller.auth('eve', 'wrong')).result, 'no');
  assert.equal((await caller.auth('bob', 'builder')).result, 'yes');
});

test('the start-up echo race, over 50 fresh starts: no wrong yes', { timeout: 300_000 }, async (t) => {
  // Every start is a new pty, as Prosody creates when the module loads. The first query is
  // written at once after fork, racing the child's echo switch-off (and so are the next ones,
  // should the child not have run yet: the next test); it is never answered (it may have been
  // echoed and line-edited), so it gets the echo or the timeout: a "no".
  // The caller waits 4 s, so that on a loaded machine the right passwords are still answered
  // in time (the in-step checks below); a stall of the bridge is tested on its own
  // (lockstep-stall.test.ts), and late answers have tests of their own.
  const starts = 50;
  const parallel = 4;
  let echoed = 0;
  let wrongYes = 0;
  let restarts = 0;
  let next = 0;
  const one = async (): Promise<void> => {
    // The bridge's log goes to a file (never to the terminal): a failure shows its end.
    const { env, dir } = bridgeEnv(`${script}\nexternal_auth_processes = 1\nextauth_caller_timeout = 4\nlog_file = "bridge.log"`, { ...USERS });
    const caller = ProsodyPty.start(t, { env, timeoutSeconds: 4 });
    const log = (): string => bridgeLog(dir).split('\n').slice(-15).join('\n');
    const first = await caller.auth('alice', 'wonderland');
    if (first.result === 'error' && first.raw?.includes('auth:alice')) echoed++;
    assert.notEqual(first.result, 'yes', 'the query that starts the bridge is not answered');
    // Then other users' wrong passwords and alice's right one, until the bridge is in step
    // (a wrong yes meanwhile fails the test). Bounded by time, not by a count of tries: while
    // the child has not yet run, every query is echoed back at once.
    await caller.waitInStep('alice', 'wonderland', 'eve');
    for (const [user, password, want] of [['carol', 'wrong', 'no'], ['alice', 'wonderland', 'yes'], ['bob', 'wrong', 'no'], ['bob', 'builder', 'yes']] as const) {
      // No answer within the caller's timeout (a loaded machine) is not a desync: the bridge
      // wrote nothing for it. The caller may also have started the bridge again (as the module
      // does when its program is gone; a new pid), which brings the start-up race back: wait
      // until it is in step again (no wrong yes meanwhile), then try the login again. Anything
      // else, an echo or any read that is no answer from the same bridge, fails the test.
      let pid = caller.bridgePid;
      let got = await caller.auth(user, password);
      for (let i = 0; i < 5 && (got.result === 'nil' || (got.result === 'error' && caller.bridgePid !== pid)); i++) {
        if (got.result === 'error') restarts++;
        await caller.waitInStep('alice', 'wonderland', 'eve');
        pid = caller.bridgePid;
        got = await caller.auth(user, password);
      }
      if (got.result === 'yes' && want === 'no') wrongYes++;
      assert.equal(got.result, want, `${user} in step after the start; the caller's last exchanges:\n${caller.transcript()}\nthe bridge's log:\n${log()}`);
    }
    await caller.close();
  };
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < starts) {
        next++;
        await one();
      }
    }),
  );
  t.diagnostic(`${starts} starts: the first query was echoed back in ${echoed}; bridges started again by the caller after being in step: ${restarts}`);
  assert.equal(wrongYes, 0);
});

test('a child not yet run when the caller writes: every query meanwhile is echoed back, none is answered, and no answer is shifted', async (t) => {
  // The child clears ECHO 1.5 s after fork: until then each query comes straight back as its
  // echo, which the module takes as the answer ("error": a "no"), and the caller goes on to the
  // next. The bridge finds them waiting when it takes the terminal, and answers none: an answer
  // to any of them would be read as the answer to a later login.
  const queries = [['alice', 'wonderland'], ['eve', 'wrong'], ['bob', 'builder']] as const;
  for (const n of [1, 3]) {
    const { env, dir } = bridgeEnv(`${script}\nexternal_auth_processes = 1\n${QUICK.toml}\nlog_file = "bridge.log"`, { ...USERS });
    const caller = ProsodyPty.start(t, { env, timeoutSeconds: QUICK.seconds, childDelaySeconds: 1.5 });
    const early = [];
    for (const [user, password] of queries.slice(0, n)) early.push(await caller.auth(user, password));
    // Written well within the child's delay (each echo comes back at once): all are echoes.
    assert.deepEqual(
      early.map((a) => a.raw?.toString()),
      queries.slice(0, n).map(([user, password]) => `auth:${user}:localhost:${password}\r\n`),
    );
    // Meanwhile the child runs and the bridge starts (on a loaded machine it may take a while:
    // read the terminal until the bridge has logged what it found, then 2 s more): nothing may
    // come for the echoed queries.
    const found = (): RegExpExecArray | null => /"queries":(\d+),"msg":"input that arrived before the terminal was raw is not answered/.exec(bridgeLog(dir));
    let late = '';
    for (let i = 0; i < 60 && found() === null; i++) late += (await caller.drain(1)).toString();
    late += (await caller.drain(2)).toString();
    assert.equal(late, '', `no answer to the ${n} echoed quer${n === 1 ? 'y' : 'ies'}`);
    assert.equal(found()?.[1], String(n), 'the bridge found them waiting and left them unanswered');
    assert.deepEqual(received(env), [], 'none reached the script');
    await caller.waitInStep('alice', 'wonderland', 'eve');
    for (const [user, password, want] of [['carol', 'wrong', 'no'], ['bob', 'builder', 'yes'], ['eve', 'wrong', 'no'], ['alice', 'wonderland', 'yes']] as const) {
      assert.equal((await caller.auth(user, password)).result, want, `${user}: the caller's last exchanges:\n${caller.transcript()}`);
    }
    await caller.close();
  }
});

test('nothing but answers reaches the terminal, at the default log level and at debug', async (t) => {
  for (const level of ['', 'log_level = "debug"']) {
    const { env } = bridgeEnv(`${script}\nexternal_auth_processes = 1\n${QUICK.toml}\n${level}`, { ...USERS });
    const caller = ProsodyPty.start(t, { env, timeoutSeconds: QUICK.seconds });
    await caller.waitInStep('bob', 'builder', 'eve');
    // Each of these logs something: a refusal, a malformed query, an injection, a crash.
    const reads = [
      await caller.auth('eve', 'wrong'),
      await caller.send('bogus:query\n'),
      await caller.send('auth:eve:localhost:x\nauth:bob:localhost:builder\n'),
      await caller.auth('crash', 'x'),
      await caller.auth('alice', 'wonderland'),
    ];
    for (const r of reads) assert.ok(r.raw === null || r.raw.equals(Buffer.from('0\n')) || r.raw.equals(Buffer.from('1\n')), `a read was not an answer: ${JSON.stringify(r.raw?.toString())}`);
    assert.equal(reads.at(-1)!.result, 'yes');
    assert.equal((await caller.drain(1)).length, 0, 'nothing else on the terminal');
    await caller.close();
  }
});

test('with log_file, the bridge on a terminal logs there, without passwords', async (t) => {
  const { env, dir } = bridgeEnv(`${script}\nexternal_auth_processes = 1\n${QUICK.toml}\nlog_file = "bridge.log"`, { ...USERS });
  const caller = ProsodyPty.start(t, { env, timeoutSeconds: QUICK.seconds });
  await caller.waitInStep('bob', 'builder', 'eve');
  assert.equal((await caller.auth('mallory', 'hunter2\nsetpass:alice:localhost:pwned')).result, 'no');
  assert.equal((await caller.drain(0.5)).length, 0);
  await caller.close();
  const log = bridgeLog(dir);
  assert.match(log, /extauth bridge ready/);
  assert.match(log, /several queries in one write/);
  assert.match(log, /input that arrived before the terminal was raw is not answered/);
  assert.doesNotMatch(log, /hunter2|pwned|wonderland|builder/);
});

test('a configuration that cannot be loaded: one "error:" line the module logs, and no answer', async (t) => {
  const { env } = bridgeEnv('external_auth_timeout = "soon"');
  const caller = ProsodyPty.start(t, { env });
  const first = await caller.auth('alice', 'wonderland');
  // The read may hold the echo of the query (terminal.ts) before the line; on a loaded machine
  // the line may come later than the module's read: keep reading until it has come (or 60 s).
  let text = first.raw?.toString() ?? '';
  for (let i = 0; i < 30 && !/(^|\n)error: /.test(text); i++) text += (await caller.drain(2)).toString();
  assert.match(text, /(^|\n)error: gatehouse extauth: .*external_auth_timeout: expected a number/);
  assert.notEqual(first.result, 'yes');
  // The module does not restart a program that exited with an error status: every login is "no".
  assert.equal((await caller.auth('alice', 'wonderland')).result, 'nil');
});

test('bytes a cooked terminal would act on pass through unchanged once the bridge runs', async (t) => {
  const { env } = bridgeEnv(`${script}\nexternal_auth_processes = 1\n${QUICK.toml}`, { ...USERS, dave: 'a\x03\x13\x15\x7fb\x1b' });
  const caller = ProsodyPty.start(t, { env, timeoutSeconds: QUICK.seconds });
  await caller.waitInStep('bob', 'builder', 'eve');
  // ^C, ^S (XOFF), ^U (kill line), DEL and ESC inside a password: signals, flow control and
  // line editing on a cooked terminal; here they reach the script as they were sent.
  const r = await caller.auth('dave', 'a\x03\x13\x15\x7fb\x1b');
  assert.equal(r.result, 'yes');
  assert.equal(r.raw?.toString(), '1\n', 'LF only: no CR added on output');
  assert.equal((await caller.auth('dave', 'ab')).result, 'no');
});

// --lockstep on pipes: the same rules, for any caller that waits for each answer.

test('--lockstep on pipes: several queries in one write get one "no" and never reach the script', async (t) => {
  const { env } = bridgeEnv('');
  const b = startBridge(writeConfig(`${fixtureCommand(fixture('fast.mjs'))}\nlog_level = "silent"`), 'generic', { RECORD_FILE: env['RECORD_FILE'] }, ['--lockstep']);
  t.after(() => b.stop());
  b.child.stdin!.write('auth:a:localhost:x\nsetpass:alice:localhost:pwned\n');
  assert.equal((await b.waitForBytes(2)).toString(), '0\n');
  b.child.stdin!.write('auth:alice:localhost:secret\n');
  assert.equal((await b.waitForBytes(4)).toString(), '0\n1\n');
  assert.deepEqual(received(env), ['auth:alice:localhost:secret'], 'only the single query reached the script');
  b.child.stdin!.end();
  assert.equal((await b.exited).code, 0);
});

test('--lockstep on pipes, ejabberd framing: two frames in one write get one "no"', async (t) => {
  const b = startBridge(writeConfig(`${fixtureCommand(fixture('fast.mjs'))}\nlog_level = "silent"`), 'ejabberd', {}, ['--lockstep']);
  t.after(() => b.stop());
  b.child.stdin!.write(Buffer.concat([encodeFrame16(Buffer.from('auth:a:localhost:x')), encodeFrame16(Buffer.from('isuser:a:localhost'))]));
  assert.deepEqual(await b.waitForBytes(4), Buffer.from([0, 2, 0, 0]));
  b.child.stdin!.write(encodeFrame16(Buffer.from('isuser:a:localhost')));
  assert.deepEqual(await b.waitForBytes(8), Buffer.from([0, 2, 0, 0, 0, 2, 0, 1]));
});

test('--lockstep on pipes: a query sent before the answer to the previous one abandons it, and its late answer is never written', async (t) => {
  const b = startBridge(writeConfig(`${fixtureCommand(fixture('slow.mjs'))}\nexternal_auth_processes = 1\nlog_level = "silent"`), 'generic', { FIXTURE_DELAY_MS: '0' }, ['--lockstep']);
  t.after(() => b.stop());
  // The first would be answered yes after 1.5 s; the second arrives before that (in the same
  // read or the next one: either way one "no").
  b.child.stdin!.write('auth:a:localhost:delay-1500\n');
  b.child.stdin!.write('auth:b:localhost:secret\n');
  assert.equal((await b.waitForBytes(2)).toString(), '0\n');
  // The script finishes the first before it takes this one: a stale "1" would come first.
  b.child.stdin!.write('auth:c:localhost:wrong\n');
  assert.equal((await b.waitForBytes(4)).toString(), '0\n0\n');
});

test("--lockstep on pipes: a query not answered before the caller's deadline gets nothing, and the script is replaced", async (t) => {
  const b = startBridge(
    writeConfig(`${fixtureCommand(fixture('slow.mjs'))}\nexternal_auth_processes = 1\nexternal_auth_timeout = 30\nlog_level = "info"`),
    'generic',
    { FIXTURE_DELAY_MS: '0' },
    ['--lockstep', '--caller-timeout', '20'],
  );
  t.after(() => b.stop());
  // A query written before the bridge runs waits in the pipe, and that wait counts against the
  // caller's deadline (liveness.ts): start once it is ready, so the first one is answered.
  assert.ok(await waitFor(() => b.stderr().includes('extauth bridge ready')), b.stderr());
  b.child.stdin!.write('auth:a:localhost:secret\n');
  assert.equal((await b.waitForBytes(2)).toString(), '1\n');
  const [before] = childrenOf(b.child.pid!);
  assert.ok(before !== undefined);
  // Answered yes after 120 s by the script, far past the caller's 20 s.
  b.child.stdin!.write('auth:a:localhost:delay-120000\n');
  // The bridge's own timer and the engine's deadline fall due together: whichever comes first
  // logs it (abandoned, or the answer came too late), and nothing is written either way.
  assert.ok(await waitFor(() => /query abandoned|after the caller's deadline; nothing written/.test(b.stderr())), b.stderr());
  assert.ok(await waitFor(() => isGone(before)), 'the busy script process was killed');
  b.child.stdin!.write('auth:a:localhost:wrong\n');
  assert.equal((await b.waitForBytes(4)).toString(), '1\n0\n', 'nothing for the abandoned query; the next one answered');
});
