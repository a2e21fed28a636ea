/**
 * The Dovecot face serves only its hosts (issue 13 item 7) and throttles one identity per
 * user (item 4), over real sockets with a real auth script that records what it is asked.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { parseConfigText } from '../../src/config/load.js';
import { DovecotAuthServer } from '../../src/dovecot/server.js';
import { DovecotClient } from '../helpers/dovecot.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture } from '../helpers/paths.js';

async function start(t: TestContext, extra: string, hosts?: readonly string[]) {
  const rec = join(mkdtempSync(join(tmpdir(), 'gh-dovecot-id-')), 'q.hex');
  process.env['RECORD_FILE'] = rec;
  t.after(() => delete process.env['RECORD_FILE']);
  const config = parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]\n${extra}`);
  const log = new MemoryLogger();
  const accounts = new Accounts(config, log);
  const server = new DovecotAuthServer({ accounts, defaultHost: 'dove.local', logger: log, ...(hosts ? { hosts } : {}) });
  const { port } = await server.listen({ port: 0 });
  const client = await DovecotClient.open({ port: port! });
  t.after(async () => {
    client.close();
    await server.close();
    await accounts.close();
  });
  const asked = () => (existsSync(rec) ? readFileSync(rec, 'utf8').trim().split('\n').filter(Boolean).map((h) => Buffer.from(h, 'hex').toString('utf8')) : []);
  return { client, asked, log };
}

test('a listener serves its default host only, unless told its hosts; another host is a FAIL the script never sees', async (t) => {
  const s = await start(t, '');
  assert.equal(await s.client.plain(1, 'alice', 'secret'), 'OK\t1\tuser=alice');
  assert.equal(await s.client.plain(2, 'alice@dove.local', 'secret'), 'OK\t2\tuser=alice@dove.local');
  assert.equal(await s.client.plain(3, 'alice@other.local', 'secret'), 'FAIL\t3\tuser=alice@other.local\treason=Authentication failed');
  assert.equal(await s.client.plain(4, 'alice@OTHER.local', 'secret'), 'FAIL\t4\tuser=alice@OTHER.local\treason=Authentication failed');
  assert.deepEqual(s.asked(), ['auth:alice:dove.local:secret', 'auth:alice:dove.local:secret']);

  const wide = await start(t, '', ['dove.local', 'other.local']);
  assert.equal(await wide.client.plain(1, 'alice@Other.Local', 'secret'), 'OK\t1\tuser=alice@Other.Local');
  assert.equal(await wide.client.plain(2, 'alice@third.local', 'secret'), 'FAIL\t2\tuser=alice@third.local\treason=Authentication failed');
});

test('dovecot_hosts in the configuration: default the default host, or the listed ones', () => {
  const base = `external_auth_command = "x"\ndovecot_default_host = "Dove.Local"\n`;
  assert.deepEqual(parseConfigText(base).dovecot.hosts, ['dove.local']);
  assert.deepEqual(parseConfigText(`${base}dovecot_hosts = ["a.example", "B.example"]`).dovecot.hosts, ['a.example', 'b.example']);
});

test('the failure limit holds for every spelling of a name: Dave, DAVE and dAve are dave', async (t) => {
  const s = await start(t, 'auth_failure_limit_user = 3\nauth_failure_limit_address = 0\nauth_failure_window = 60');
  for (let i = 1; i <= 3; i++) assert.match((await s.client.plain(i, 'dave', 'wrong')) ?? '', /^FAIL\t\d+\tuser=dave\treason=Authentication failed$/);
  let id = 10;
  for (const name of ['dave', 'Dave', 'DAVE', 'dAve', 'Ｄave', ' dave']) {
    const answer = (await s.client.plain(id++, name, 'pw-dave')) ?? '';
    assert.match(answer, /^FAIL\t\d+\t.*reason=Too many failed attempts/, `${JSON.stringify(name)} was not throttled: ${answer}`);
  }
  assert.deepEqual(s.asked(), ['auth:dave:dove.local:wrong', 'auth:dave:dove.local:wrong', 'auth:dave:dove.local:wrong'], 'a throttled spelling reached the script');
  // The refusal is logged on the identity, not the spelling.
  const refused = s.log.entries.filter((e) => e.msg === 'login refused: too many failures').map((e) => e.obj['user']);
  assert.deepEqual([...new Set(refused)], ['dave']);
});
