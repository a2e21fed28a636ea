/**
 * Several `gatehouse serve` instances behind one address: three processes on different
 * loopback ports share one PostgreSQL database and one registration key. Any of them can take
 * any step of a flow; a code is redeemed once even when two race for it; a revocation on one
 * is seen by all; login throttling counts across them.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { authorize, basic, introspect, onFreePort, pkce, REDIRECT, register, REGISTRATION_KEY, token } from '../helpers/oauth.js';
import { killWithScripts, stopGracefully } from '../helpers/cleanup.js';
import { fixture, GATEHOUSE_BIN } from '../helpers/paths.js';
import { createTestSchema } from '../helpers/postgres.js';

async function startInstance(configText: string): Promise<{ child: ChildProcess; stderr: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-fleet-'));
  const file = join(dir, 'gatehouse.toml');
  writeFileSync(file, configText);
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // Generous: on a loaded machine a start takes longer, and the wait only costs on failure.
  const end = Date.now() + 60_000;
  while (!err.includes('HTTP listening')) {
    if (child.exitCode !== null || Date.now() > end) {
      killWithScripts(child);
      throw new Error(`instance did not start:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, stderr: () => err };
}

test('three instances, one PostgreSQL: any step on any instance, single-use codes, shared revocation and throttling', async (t) => {
  const db = await createTestSchema();
  t.after(() => db.drop());
  const config = (port: number, issuer: string) => `external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]
database_url = ${JSON.stringify(db.url)}
oauth2_registration_key = "${REGISTRATION_KEY}"
oauth2_registration_rate_limit = 0
auth_failure_limit_user = 3
auth_failure_limit_address = 0
http_ports = [${port}]
log_level = "info"
[hosts."localhost"]
oauth2_issuer = "${issuer}"
`;
  const instances: { child: ChildProcess; stderr: () => string }[] = [];
  // Registered before any starts: should the second fail to start, the first is stopped too.
  t.after(() => Promise.all(instances.map((i) => stopGracefully(i.child))));
  // The issuer is the public address of the fleet; here the first instance's.
  let issuer = '';
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await onFreePort(async (p) => {
      instances.push(await startInstance(config(p, i === 0 ? `http://127.0.0.1:${p}/localhost` : issuer)));
      return p;
    });
    if (i === 0) issuer = `http://127.0.0.1:${port}/localhost`;
    ports.push(port);
  }
  const [a, b, c] = ports.map((p) => `http://127.0.0.1:${p}/localhost`) as [string, string, string];

  // Register on A, authorize on B, exchange on C, refresh on A, introspect on B.
  const client = await register(a);
  assert.equal(client.status, 201);
  const auth = basic(client.client_id!, client.client_secret!);
  const { verifier, challenge } = pkce();
  const back = await authorize(b, client.client_id!, { challenge });
  assert.equal(back.searchParams.get('iss'), issuer);
  const code = back.searchParams.get('code')!;
  const first = await token(c, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const refreshed = await token(a, { grant_type: 'refresh_token', refresh_token: first.body['refresh_token'] as string }, auth);
  assert.equal(refreshed.status, 200);
  assert.equal((await introspect(b, refreshed.body['access_token'] as string, auth))['active'], true);

  // Two instances race to redeem one code: exactly one wins, the loser's replay revokes the grant.
  const race = pkce();
  const raceCode = (await authorize(c, client.client_id!, { challenge: race.challenge })).searchParams.get('code')!;
  const form = { grant_type: 'authorization_code', code: raceCode, redirect_uri: REDIRECT, code_verifier: race.verifier };
  const results = await Promise.all([token(a, form, auth), token(b, form, auth)]);
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 400]);

  // Revocation on C is seen by A.
  const access = refreshed.body['access_token'] as string;
  await fetch(`${c}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: `token=${access}` });
  assert.equal((await introspect(a, access, auth))['active'], false);

  // Login throttling holds across instances: two failures on A, one on B, then C refuses.
  const check = async (base: string, pass: string) =>
    (await fetch(`${base.replace('/localhost', '')}/auth/check_password?${new URLSearchParams({ user: 'dave', server: 'localhost', pass })}`)).status;
  assert.equal(await check(a, 'nope1'), 200);
  assert.equal(await check(a, 'nope2'), 200);
  assert.equal(await check(b, 'nope3'), 200);
  assert.equal(await check(c, 'pw-dave'), 429);
});

test('two instances on PostgreSQL without OAuth still count failed logins together', async (t) => {
  const db = await createTestSchema();
  t.after(() => db.drop());
  const config = (port: number) => `external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]
database_url = ${JSON.stringify(db.url)}
auth_failure_limit_user = 2
auth_failure_limit_address = 0
http_ports = [${port}]
log_level = "info"
`;
  const instances: { child: ChildProcess; stderr: () => string }[] = [];
  // Registered before any starts: should the second fail to start, the first is stopped too.
  t.after(() => Promise.all(instances.map((i) => stopGracefully(i.child))));
  const ports: number[] = [];
  for (let i = 0; i < 2; i++) {
    ports.push(
      await onFreePort(async (p) => {
        instances.push(await startInstance(config(p)));
        return p;
      }),
    );
  }
  const check = async (port: number, pass: string) =>
    (await fetch(`http://127.0.0.1:${port}/auth/check_password?${new URLSearchParams({ user: 'erin', server: 'localhost', pass })}`)).status;
  assert.equal(await check(ports[0]!, 'nope1'), 200);
  assert.equal(await check(ports[1]!, 'nope2'), 200);
  // The first instance did not count the failure that reached the limit: it waits the whole
  // delay from now (the auth API has no client address: a delay after the last failure).
  assert.equal(await check(ports[0]!, 'pw-erin'), 429);
});
