/**
 * The failures reproduced against Prosody's mod_auth_external_insecure (DESIGN.md), each
 * tried for real against real script processes: the attack is made, and it must fail.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixtureEngine, outcome, waitFor } from '../helpers/engine.js';

for (const protocol of ['generic', 'ejabberd'] as const) {
  test(`${protocol}: a password with a newline never makes the script receive a second command`, async (t) => {
    const { engine, received } = fixtureEngine('fast.mjs', { protocol, record: true });
    t.after(() => engine.close());
    const attacks = [
      'x\nsetpass:admin:localhost:owned',
      'x\r\nisuser:admin:localhost',
      'x\nauth:admin:localhost:secret',
      'x\0auth:admin:localhost:secret',
    ];
    for (const password of attacks) {
      assert.equal(await outcome(engine.auth('alice', 'localhost', password)), 'ERR_EXTAUTH_INVALID_INPUT');
      assert.equal(await outcome(engine.setpass('alice', 'localhost', password)), 'ERR_EXTAUTH_INVALID_INPUT');
      assert.equal(await outcome(engine.tryregister('alice', 'localhost', password)), 'ERR_EXTAUTH_INVALID_INPUT');
    }
    assert.equal(await outcome(engine.isuser('al\nice', 'localhost')), 'ERR_EXTAUTH_INVALID_INPUT');
    assert.equal(await outcome(engine.isuser('alice', 'local\nhost')), 'ERR_EXTAUTH_INVALID_INPUT');
    assert.equal(await outcome(engine.auth('admin:localhost:secret', 'h', 'x')), 'ERR_EXTAUTH_INVALID_INPUT');
    // Nothing of the above reached the script; the next, honest query is the only one it saw.
    assert.equal(await engine.auth('alice', 'localhost', 'wrong'), false);
    assert.deepEqual(received().map(String), ['auth:alice:localhost:wrong']);
  });

  test(`${protocol}: a late "1" never answers another query`, async (t) => {
    // The script answers "late" with yes after 700 ms; the engine gives up after 300 ms.
    const { engine } = fixtureEngine('late.mjs', {
      protocol,
      timeoutMs: 300,
      env: { FIXTURE_DELAY_MS: '700' },
    });
    t.after(() => engine.close());
    const pidsBefore = engine.pids();
    assert.equal(await outcome(engine.auth('mallory', 'localhost', 'late')), 'ERR_EXTAUTH_TIMEOUT');
    // Queries sent while the late yes is still on its way, and after it was written: each
    // must get its own "no" (or, on a slow machine, an error), never the late "yes". Bounded:
    // at least 5 real answers and 800 ms, at most 60 s.
    const results: (boolean | string)[] = [];
    const start = Date.now();
    const answered = () => results.filter((r) => r === false).length;
    while ((answered() < 5 || Date.now() - start < 800) && Date.now() - start < 60_000) {
      results.push(await outcome(engine.auth('alice', 'localhost', 'wrong-password')));
    }
    assert.ok(!results.includes(true), `got ${JSON.stringify(results)}`);
    assert.ok(answered() >= 5, `got ${JSON.stringify(results)}`);
    assert.ok(results.every((r) => r === false || r === 'ERR_EXTAUTH_TIMEOUT'), `got ${JSON.stringify(results)}`);
    // The late process was replaced, not reused, and is gone.
    assert.ok(engine.stats().timeouts >= 1);
    assert.ok(await waitFor(() => !engine.pids().includes(pidsBefore[0]!)));
  });

  test(`${protocol}: an echoed query (a pty's echo) is a bad reply, never an answer`, async (t) => {
    const { engine } = fixtureEngine('echo.mjs', { protocol });
    t.after(() => engine.close());
    for (let i = 0; i < 5; i++) {
      // "auth:a:h:secret" would be a yes; the echo must not shift answers onto later queries.
      assert.equal(await outcome(engine.auth('alice', 'localhost', i % 2 ? 'secret' : 'wrong')), 'ERR_EXTAUTH_BAD_REPLY');
    }
  });

  test(`${protocol}: two replies in one write fail the query and retire the process`, async (t) => {
    // lying.mjs answers "no" then "yes" to every query, in one write.
    const { engine } = fixtureEngine('lying.mjs', { protocol });
    t.after(() => engine.close());
    for (let i = 0; i < 5; i++) {
      assert.equal(await outcome(engine.auth('alice', 'localhost', 'wrong')), 'ERR_EXTAUTH_BAD_REPLY');
    }
    assert.equal(engine.stats().badReplies, 5);
  });

  test(`${protocol}: output before the first query retires the process before it can answer anything`, async (t) => {
    // The script writes "yes" as soon as it starts; the start-up quiet period catches it.
    const { engine } = fixtureEngine('unsolicited.mjs', {
      protocol,
      startQuietMs: 1000,
      queueTimeoutMs: 300,
      env: { FIXTURE_AT_START: '1' },
    });
    t.after(() => engine.close());
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await outcome(engine.auth('alice', 'localhost', 'wrong')));
    assert.ok(results.every((r) => typeof r === 'string'), JSON.stringify(results));
    assert.ok(engine.stats().badReplies >= 1);
  });

  test(`${protocol}: output after a reply, with no query outstanding, retires the process`, async (t) => {
    // A stray "yes" 20 ms after every reply; the next query waits until the engine saw it.
    const { engine } = fixtureEngine('unsolicited.mjs', { protocol, env: { FIXTURE_AFTER_MS: '20' } });
    t.after(() => engine.close());
    const results = [];
    for (let i = 0; i < 4; i++) {
      results.push(await outcome(engine.auth('alice', 'localhost', 'wrong')));
      assert.ok(await waitFor(() => engine.stats().badReplies === i + 1), `stray output ${i + 1} seen`);
    }
    assert.ok(!results.includes(true), JSON.stringify(results));
    assert.equal(engine.stats().badReplies, 4);
  });
}

test('garbage replies never turn into yes', async (t) => {
  const cases: [string, 'generic' | 'ejabberd'][] = [
    ['7965730a', 'generic'], // "yes\n"
    ['310d0d0a', 'generic'], // "1\r\r\n"
    ['4f4b0a', 'generic'], // "OK\n"
    ['74727565', 'generic'], // "true", no newline: never completes -> timeout
    ['00020101', 'ejabberd'],
    ['000100', 'ejabberd'],
    ['0003000001', 'ejabberd'],
    ['310a', 'ejabberd'],
  ];
  for (const [hex, protocol] of cases) {
    const { engine } = fixtureEngine('garbage.mjs', { protocol, timeoutMs: 300, env: { FIXTURE_REPLY_HEX: hex } });
    t.after(() => engine.close());
    const r = await outcome(engine.auth('alice', 'localhost', 'secret'));
    assert.ok(r === 'ERR_EXTAUTH_BAD_REPLY' || r === 'ERR_EXTAUTH_TIMEOUT', `${protocol} ${hex}: ${r}`);
  }
});

test('a reply sent byte by byte is assembled and answered correctly', async (t) => {
  for (const protocol of ['generic', 'ejabberd'] as const) {
    const { engine } = fixtureEngine('partial.mjs', { protocol, env: { FIXTURE_DELAY_MS: '10' } });
    t.after(() => engine.close());
    assert.equal(await engine.auth('alice', 'localhost', 'secret'), true);
    assert.equal(await engine.auth('alice', 'localhost', 'wrong'), false);
    assert.equal(engine.stats().restarts, 0);
  }
});

test('a short frame is never completed by anything: timeout, or exit, but no yes', async (t) => {
  for (const protocol of ['generic', 'ejabberd'] as const) {
    const hang = fixtureEngine('truncated.mjs', { protocol, timeoutMs: 200 });
    t.after(() => hang.engine.close());
    assert.equal(await outcome(hang.engine.auth('alice', 'localhost', 'secret')), 'ERR_EXTAUTH_TIMEOUT');
    const exit = fixtureEngine('truncated.mjs', { protocol, timeoutMs: 2000, env: { FIXTURE_EXIT: '1' } });
    t.after(() => exit.engine.close());
    assert.equal(await outcome(exit.engine.auth('alice', 'localhost', 'secret')), 'ERR_EXTAUTH_EXITED');
  }
});

test('an endless reply line fails fast without buffering it', async (t) => {
  const { engine } = fixtureEngine('flood.mjs', { timeoutMs: 5000 });
  t.after(() => engine.close());
  const before = process.memoryUsage().rss;
  assert.equal(await outcome(engine.auth('alice', 'localhost', 'secret')), 'ERR_EXTAUTH_BAD_REPLY');
  assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
  assert.ok(await waitFor(() => engine.stats().live === 1 && engine.stats().idle === 1));
  // The replacement is a fresh process that floods again: still no yes.
  assert.equal(await outcome(engine.auth('alice', 'localhost', 'secret')), 'ERR_EXTAUTH_BAD_REPLY');
});
