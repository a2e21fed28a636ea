/**
 * The server properties (servers.ts) against real servers with a real auth script, bounded in
 * cases; `npm run fuzz` runs the long campaign.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { parseConfigText } from '../../src/config/load.js';
import { DovecotAuthServer } from '../../src/dovecot/server.js';
import { DovecotClient } from '../helpers/dovecot.js';
import { startOAuth } from '../helpers/oauth.js';
import { fixture } from '../helpers/paths.js';
import { fuzzDovecot, fuzzRoutes, type RouteFuzzStats } from './servers.js';

const RUNS = Number(process.env['GATEHOUSE_FUZZ_HTTP_RUNS'] ?? 400);

test('fuzz: every HTTP route answers random requests without a 5xx, a hang or a false yes', { timeout: 120_000 }, async (t) => {
  const s = await startOAuth(t, 'oauth2_registration_rate_limit = 100000\noauth2_token_rate_limit = 100000');
  const stats: RouteFuzzStats = { requests: 0, byStatus: {} };
  await fuzzRoutes({ origin: s.origin, issuerPath: '/localhost' }, RUNS, { stats });
  assert.equal(stats.requests, RUNS);
  assert.deepEqual(s.log.entries.filter((e) => e.level === 'error').map((e) => `${e.msg} ${JSON.stringify(e.obj)}`), []);
  // Still serving.
  assert.equal((await fetch(`${s.origin}/healthz`)).status, 200);
  assert.equal(await (await fetch(`${s.origin}/auth/check_password?user=alice&server=localhost&pass=secret`)).text(), 'true');
});

test('fuzz: the Dovecot face never says OK to wrong credentials, whatever the lines', { timeout: 120_000 }, async (t) => {
  const config = parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]\nauth_failure_limit_user = 0\nauth_failure_limit_address = 0`);
  const accounts = new Accounts(config);
  const server = new DovecotAuthServer({ accounts, defaultHost: 'localhost' });
  const { port } = await server.listen({ port: 0 });
  t.after(async () => {
    await server.close();
    await accounts.close();
  });
  await fuzzDovecot(port!, Math.ceil(RUNS / 4));
  const c = await DovecotClient.open({ port: port! });
  t.after(() => c.close());
  assert.equal(await c.plain(1, 'alice', 'secret'), 'OK\t1\tuser=alice');
});
