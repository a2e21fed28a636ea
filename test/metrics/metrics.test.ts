/**
 * Operation endpoints against a real server on 127.0.0.1 and real auth scripts: Prometheus
 * metrics, readiness, request ids, and request logs that never hold a secret.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { parseConfigText } from '../../src/config/load.js';
import { buildApp } from '../../src/server/http-app.js';
import { openStore } from '../../src/storage/index.js';
import { fixtureCommand, writeConfig } from '../helpers/bridge.js';
import { waitFor } from '../helpers/engine.js';
import { postForm, startHttp } from '../helpers/http.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture, GATEHOUSE_BIN, ROOT } from '../helpers/paths.js';

const script = (name: string) => fixtureCommand(fixture(name));
const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Samples of a Prometheus text exposition, keyed `name{a="x",b="y"}` with labels sorted. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = m[2] === undefined ? [] : [...m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}="${l[2]}"`);
    out.set(`${m[1]}{${labels.sort().join(',')}}`, Number(m[3]));
  }
  return out;
}

async function scrape(base: string): Promise<{ text: string; samples: Map<string, number>; type: string | null }> {
  const r = await fetch(`${base}/metrics`);
  assert.equal(r.status, 200);
  const text = await r.text();
  return { text, samples: parseMetrics(text), type: r.headers.get('content-type') };
}

/**
 * Scrape until every expected sample has its value (a response's onResponse hook may run just
 * after the client has the response), then assert them all.
 */
async function expectSamples(base: string, expected: Record<string, number>, ms = 30_000): Promise<{ text: string; samples: Map<string, number> }> {
  let last = await scrape(base);
  const matches = () => Object.entries(expected).every(([k, v]) => last.samples.get(k) === v);
  const deadline = Date.now() + ms;
  while (!matches() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    last = await scrape(base);
  }
  for (const [k, v] of Object.entries(expected)) assert.equal(last.samples.get(k), v, `${k} in\n${last.text}`);
  return last;
}

/** GET /readyz until its status is `status` (or the deadline passes); returns the last answer. */
async function readyz(base: string, status: number, ms = 30_000): Promise<{ status: number; body: Record<string, unknown> }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await fetch(`${base}/readyz`);
    const body = (await r.json()) as Record<string, unknown>;
    if (r.status === status || Date.now() > deadline) return { status: r.status, body };
    await new Promise((res) => setTimeout(res, 50));
  }
}

test('/metrics: queries by command and result, HTTP requests by route pattern, pool state, process metrics', async (t) => {
  const { base } = await startHttp(t, `${script('fast.mjs')}\nexternal_auth_processes = 2`);
  const get = (path: string, params: Record<string, string>) => fetch(`${base}/auth/${path}?${q(params)}`).then((r) => r.text());
  assert.equal(await get('check_password', { user: 'alice', server: 'localhost', pass: 'secret' }), 'true');
  assert.equal(await get('check_password', { user: 'bob', server: 'localhost', pass: 'secret' }), 'true');
  assert.equal(await get('check_password', { user: 'alice', server: 'localhost', pass: 'wrong-guess' }), 'false');
  assert.equal(await get('user_exists', { user: 'alice', server: 'localhost' }), 'true');
  assert.equal(await get('user_exists', { user: 'nobody1', server: 'localhost' }), 'false');
  assert.equal((await postForm(`${base}/auth/register`, { user: 'carol', server: 'localhost', pass: 'x' })).status, 201);
  assert.equal((await fetch(`${base}/no/such/path?pass=wrong-guess`)).status, 404);

  const { text, samples } = await expectSamples(base, {
    'gatehouse_extauth_queries_total{command="auth",result="yes"}': 2,
    'gatehouse_extauth_queries_total{command="auth",result="no"}': 1,
    'gatehouse_extauth_queries_total{command="isuser",result="yes"}': 1,
    'gatehouse_extauth_queries_total{command="isuser",result="no"}': 1,
    'gatehouse_extauth_queries_total{command="tryregister",result="yes"}': 1,
    'gatehouse_extauth_query_duration_seconds_count{command="auth"}': 3,
    'gatehouse_extauth_query_duration_seconds_count{command="isuser"}': 2,
    'gatehouse_http_requests_total{method="GET",route="/auth/check_password",status="200"}': 3,
    'gatehouse_http_requests_total{method="GET",route="/auth/user_exists",status="200"}': 2,
    'gatehouse_http_requests_total{method="POST",route="/auth/register",status="201"}': 1,
    'gatehouse_http_requests_total{method="GET",route="unmatched",status="404"}': 1,
    'gatehouse_http_request_duration_seconds_count{method="GET",route="/auth/check_password"}': 3,
    'gatehouse_extauth_processes{engine="*"}': 2,
    'gatehouse_extauth_processes_live{engine="*"}': 2,
    'gatehouse_extauth_processes_busy{engine="*"}': 0,
    'gatehouse_extauth_queue_depth{engine="*"}': 0,
    'gatehouse_extauth_restarts_total{engine="*"}': 0,
    'gatehouse_extauth_timeouts_total{engine="*"}': 0,
    'gatehouse_extauth_start_failures{engine="*"}': 0,
  });
  const sum = samples.get('gatehouse_extauth_query_duration_seconds_sum{command="auth"}');
  // Durations are recorded, consistent with the buckets: three observations, each no longer
  // than the smallest bucket that holds all three.
  const holdsAll = [...samples]
    .filter(([k, v]) => k.startsWith('gatehouse_extauth_query_duration_seconds_bucket{command="auth",le="') && !k.includes('+Inf') && v === 3)
    .map(([k]) => Number(/le="([^"]+)"/.exec(k)![1]));
  assert.ok(sum !== undefined && sum > 0, `auth latency sum ${sum}`);
  if (holdsAll.length > 0) assert.ok(sum <= 3 * Math.min(...holdsAll), `sum ${sum} exceeds 3 x ${Math.min(...holdsAll)}`);
  assert.equal(samples.get('gatehouse_extauth_query_duration_seconds_bucket{command="auth",le="+Inf"}'), 3);
  // prom-client's default process metrics, in this app's own registry.
  assert.ok(samples.has('process_cpu_user_seconds_total{}'), 'no process metrics');
  assert.ok([...samples.keys()].some((k) => k.startsWith('nodejs_eventloop_lag_seconds')), 'no event loop metrics');
  assert.match(text, /# TYPE gatehouse_extauth_queries_total counter/);
  assert.match(text, /# TYPE gatehouse_extauth_queue_depth gauge/);
  assert.match(text, /# TYPE gatehouse_http_request_duration_seconds histogram/);
  // Route patterns only: no raw path, no query string, no user name, no password.
  for (const leak of ['wrong-guess', 'secret', 'alice', '/no/such/path', 'pass=']) assert.ok(!text.includes(leak), `${leak} in /metrics`);
  assert.match((await scrape(base)).type ?? '', /^text\/plain; version=0\.0\.4/);
});

test('/metrics: a script answering late counts as a timeout and a restart', async (t) => {
  const { base } = await startHttp(t, `${script('slow.mjs')}\nexternal_auth_timeout = 0.2`);
  const r = await fetch(`${base}/auth/check_password?${q({ user: 'alice', server: 'localhost', pass: 'delay-2000' })}`);
  assert.ok(r.status >= 500, `status ${r.status}`);
  await r.arrayBuffer();
  await expectSamples(base, {
    'gatehouse_extauth_queries_total{command="auth",result="ERR_EXTAUTH_TIMEOUT"}': 1,
    'gatehouse_extauth_timeouts_total{engine="*"}': 1,
    'gatehouse_extauth_restarts_total{engine="*"}': 1,
  });
});

test('two apps in one process keep separate registries', async (t) => {
  const a = await startHttp(t, script('fast.mjs'));
  const b = await startHttp(t, script('fast.mjs'));
  assert.equal(await (await fetch(`${a.base}/auth/user_exists?${q({ user: 'alice', server: 'localhost' })}`)).text(), 'true');
  await expectSamples(a.base, { 'gatehouse_extauth_queries_total{command="isuser",result="yes"}': 1 });
  const other = await scrape(b.base);
  assert.equal(other.samples.get('gatehouse_extauth_queries_total{command="isuser",result="yes"}'), undefined);
});

test('/readyz: 200 once the script is up; 503 naming the engine while the script keeps dying at start', async (t) => {
  const up = await startHttp(t, script('fast.mjs'));
  assert.deepEqual(await readyz(up.base, 200), { status: 200, body: { status: 'ready' } });
  // Liveness does not depend on the script.
  const down = await startHttp(t, script('crash-start.mjs'));
  const r = await readyz(down.base, 503);
  assert.equal(r.status, 503);
  assert.equal(r.body['status'], 'not ready');
  const failing = r.body['failing'] as { check: string; engine?: string; reason: string }[];
  assert.equal(failing.length, 1);
  assert.equal(failing[0]!.check, 'extauth');
  assert.equal(failing[0]!.engine, '*');
  // Either no process is up, or one is within its start-up quiet period and has not yet
  // served long enough to count: which one a probe sees depends on when the script dies.
  assert.match(failing[0]!.reason, /no auth script process|no process up for \d+ ms yet/);
  // It stays not ready while the script keeps dying (never flaps to 200 during a restart).
  for (let i = 0; i < 10; i++) {
    assert.equal((await fetch(`${down.base}/readyz`)).status, 503);
    await new Promise((res) => setTimeout(res, 30));
  }
  assert.deepEqual(await (await fetch(`${down.base}/healthz`)).json(), { status: 'ok' });
  assert.ok(down.log.entries.some((e) => e.level === 'warn' && e.msg === 'not ready'));
  // A host table with its own script is its own engine, named by its host.
  const mixed = await startHttp(t, `${script('fast.mjs')}\n[hosts."broken.example"]\n${script('crash-start.mjs')}`);
  const engines = async () => {
    const r = await fetch(`${mixed.base}/readyz`);
    assert.equal(r.status, 503);
    return ((await r.json()) as { failing: { engine?: string }[] }).failing.map((f) => f.engine);
  };
  // The default engine counts once its process has been up a while; the broken one never does.
  let names = await engines();
  for (const deadline = Date.now() + 30_000; names.length !== 1 && Date.now() < deadline; ) {
    await new Promise((res) => setTimeout(res, 50));
    names = await engines();
  }
  assert.deepEqual(names, ['broken.example']);
});

test('/readyz: ready again once a script that failed at start has recovered', async (t) => {
  const flag = join(mkdtempSync(join(tmpdir(), 'gh-flaky-')), 'started');
  const command = `external_auth_command = ${JSON.stringify([process.execPath, join(ROOT, 'test', 'metrics', 'flaky-start.mjs'), flag])}`;
  const { base } = await startHttp(t, command);
  const r = await readyz(base, 200);
  assert.deepEqual(r, { status: 200, body: { status: 'ready' } });
  // The pool still counts the failed start (it resets only when an answering process ends).
  await expectSamples(base, { 'gatehouse_extauth_start_failures{engine="*"}': 1, 'gatehouse_extauth_restarts_total{engine="*"}': 1 });
  assert.equal(await (await fetch(`${base}/auth/user_exists?${q({ user: 'alice', server: 'localhost' })}`)).text(), 'true');
});

test('/readyz: storage must answer when a store is configured', async (t) => {
  const config = parseConfigText(script('fast.mjs'));
  const log = new MemoryLogger();
  const accounts = new Accounts(config, log);
  const store = await openStore({ databaseUrl: null, dataDir: mkdtempSync(join(tmpdir(), 'gh-readyz-')) });
  const app = await buildApp({ config, accounts, hosts: [], store, logger: log });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await app.close();
    await accounts.close();
  });
  assert.deepEqual(await readyz(base, 200), { status: 200, body: { status: 'ready' } });
  await store.close();
  const r = await readyz(base, 503);
  assert.equal(r.status, 503);
  assert.deepEqual(r.body, { status: 'not ready', failing: [{ check: 'storage', reason: 'read failed' }] });
});

test('request ids: a well-formed x-request-id is echoed, anything else is replaced', async (t) => {
  const { base, log } = await startHttp(t, script('fast.mjs'));
  const idOf = async (headers: Record<string, string>, path = '/healthz') => (await fetch(`${base}${path}`, { headers })).headers.get('x-request-id');
  assert.equal(await idOf({ 'x-request-id': 'Abc-123.x_Y' }), 'Abc-123.x_Y');
  assert.equal(await idOf({ 'x-request-id': 'a'.repeat(64) }), 'a'.repeat(64));
  assert.match((await idOf({})) ?? '', UUID);
  for (const bad of ['a'.repeat(65), 'has space', 'semi;colon', 'quote"', '', 'ünï']) {
    const id = await idOf({ 'x-request-id': bad });
    assert.match(id ?? '', UUID, `"${bad}" gave ${id}`);
  }
  // Also on errors and unmatched routes, and the log line carries the same id.
  assert.equal(await idOf({ 'x-request-id': 'req-404' }, '/nowhere'), 'req-404');
  assert.equal(await idOf({ 'x-request-id': 'req-400' }, '/auth/check_password?user=a'), 'req-400');
  assert.ok(await waitFor(() => log.entries.some((e) => e.obj['reqId'] === 'req-400')));
  const line = log.entries.find((e) => e.obj['reqId'] === 'req-404')!;
  assert.equal(line.obj['status'], 404);
  assert.equal(line.obj['route'], 'unmatched');
});

test('request logs: one info line per request, route pattern and status, never the password or the token', async (t) => {
  const { base, log } = await startHttp(t, script('fast.mjs'));
  const secretQuery = q({ user: 'alice', server: 'localhost', pass: 'SECRET123' });
  const bearer = { authorization: 'Bearer TOKEN-abc.XYZ-987', 'x-request-id': 'r-1' };
  assert.equal((await fetch(`${base}/auth/check_password?${secretQuery}`, { headers: bearer })).status, 200);
  assert.equal((await postForm(`${base}/auth/set_password`, { user: 'alice', server: 'localhost', pass: 'SECRET123' }, { ...bearer, 'x-request-id': 'r-2' })).status, 204);
  assert.equal((await fetch(`${base}/auth/nope?${secretQuery}`, { headers: { ...bearer, 'x-request-id': 'r-3' } })).status, 404);
  assert.equal((await fetch(`${base}/auth/check_password?${secretQuery}&pass=two`, { headers: { ...bearer, 'x-request-id': 'r-4' } })).status, 400);

  assert.ok(await waitFor(() => log.entries.filter((e) => e.msg === 'request').length === 4), log.text());
  const lines = log.entries.filter((e) => e.msg === 'request');
  assert.ok(lines.every((e) => e.level === 'info'));
  const byId = new Map(lines.map((e) => [e.obj['reqId'], e.obj]));
  const strip = (o: Record<string, unknown> | undefined) => {
    assert.ok(o !== undefined);
    const { durationMs, ...rest } = o;
    assert.equal(typeof durationMs, 'number');
    assert.ok((durationMs as number) >= 0);
    return rest;
  };
  assert.deepEqual(strip(byId.get('r-1')), { face: 'http', reqId: 'r-1', method: 'GET', route: '/auth/check_password', status: 200 });
  assert.deepEqual(strip(byId.get('r-2')), { face: 'http', reqId: 'r-2', method: 'POST', route: '/auth/set_password', status: 204 });
  assert.deepEqual(strip(byId.get('r-3')), { face: 'http', reqId: 'r-3', method: 'GET', route: 'unmatched', status: 404 });
  assert.deepEqual(strip(byId.get('r-4')), { face: 'http', reqId: 'r-4', method: 'GET', route: '/auth/check_password', status: 400 });

  const text = log.text();
  for (const secret of ['SECRET123', 'TOKEN-abc', 'XYZ-987', 'Bearer', 'pass=']) assert.ok(!text.includes(secret), `${secret} reached the log:\n${text}`);
});

test('serve: /readyz, /metrics and JSON request logs without secrets from the real process', async (t) => {
  const config = writeConfig(`${script('fast.mjs')}\nhttp_ports = [0]\nlog_level = "info"`);
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  assert.ok(await waitFor(() => stderr.includes('HTTP listening')), stderr);
  const lines = () => stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const base = (lines().find((l) => l['msg'] === 'HTTP listening')!['addresses'] as string[])[0]!;

  assert.deepEqual(await readyz(base, 200), { status: 200, body: { status: 'ready' } });
  const r = await fetch(`${base}/auth/check_password?${q({ user: 'alice', server: 'localhost', pass: 'SECRET123' })}`, {
    headers: { authorization: 'Bearer TOKEN-abc.XYZ-987', 'x-request-id': 'serve-1' },
  });
  assert.equal(await r.text(), 'false');
  assert.equal(r.headers.get('x-request-id'), 'serve-1');
  await expectSamples(base, {
    'gatehouse_extauth_queries_total{command="auth",result="no"}': 1,
    'gatehouse_http_requests_total{method="GET",route="/auth/check_password",status="200"}': 1,
  });
  assert.match((await scrape(base)).text, /^process_cpu_user_seconds_total /m);

  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  const request = lines().find((l) => l['reqId'] === 'serve-1');
  assert.ok(request, stderr);
  assert.equal(request['level'], 30);
  assert.equal(request['msg'], 'request');
  assert.equal(request['route'], '/auth/check_password');
  assert.equal(request['status'], 200);
  assert.equal(request['method'], 'GET');
  for (const secret of ['SECRET123', 'TOKEN-abc', 'XYZ-987', 'Bearer', 'pass=']) assert.ok(!stderr.includes(secret), `${secret} reached the log`);
});
