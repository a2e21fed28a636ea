/**
 * The extauth socket of `gatehouse serve` (bridge/socket-server.ts), with real connections and
 * a real auth script: each connection is a worker answered in lockstep, every worker shares the
 * one Accounts, and the lockstep events are counted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mock, test } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { ExtauthSocketServer } from '../../src/bridge/socket-server.js';
import { parseConfigText } from '../../src/config/load.js';
import { encodeFrame16 } from '../../src/extauth/wire/frame16.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { fixture } from '../helpers/paths.js';

const frame = (s: string): Buffer => encodeFrame16(Buffer.from(s));
const YES = Buffer.from([0, 2, 0, 1]);
const NO = Buffer.from([0, 2, 0, 0]);

/** A connection that collects what it receives. */
function worker(path: string): Promise<{ socket: Socket; read(n: number): Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let got = Buffer.alloc(0);
    const waiters: (() => void)[] = [];
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      for (const w of waiters.splice(0)) w();
    });
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        socket,
        read: (n) =>
          new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`only ${got.length} of ${n} bytes`)), 10_000);
            const check = (): void => {
              if (got.length >= n) {
                clearTimeout(timer);
                res(got.subarray(0, n));
              } else waiters.push(check);
            };
            check();
          }),
      }),
    );
  });
}

test('workers on the extauth socket share one pool and one throttle, each answered in lockstep', async (t) => {
  const config = parseConfigText(
    `external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]\nexternal_auth_processes = 2\nauth_failure_limit_user = 2`,
  );
  const accounts = new Accounts(config);
  const metrics = createRegistry({ processMetrics: false });
  const server = new ExtauthSocketServer({
    accounts,
    protocol: 'ejabberd',
    callerTimeoutMs: 30_000,
    limits: { maxFieldBytes: 1023, maxQueryBytes: 4096 },
    metrics,
  });
  t.after(async () => {
    await server.close();
    await accounts.close();
  });
  const path = join(mkdtempSync(join(tmpdir(), 'gh-xsock-')), 'extauth.sock');
  await server.listen({ socket: path });
  const [a, b] = await Promise.all([worker(path), worker(path)]);

  a.socket.write(frame('auth:alice:localhost:secret'));
  b.socket.write(frame('isuser:nobody:localhost'));
  assert.deepEqual(await a.read(4), YES);
  assert.deepEqual(await b.read(4), NO);

  // Two frames in one write (a desync or an injection): one "no", nothing asked.
  a.socket.write(Buffer.concat([frame('auth:alice:localhost:secret'), frame('isuser:alice:localhost')]));
  assert.deepEqual((await a.read(8)).subarray(4), NO);

  // One failure count for the user, whichever worker the guesses come through. Past the limit
  // the wait on these faces is a delay after the last failure: the clock stands still here.
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  a.socket.write(frame('auth:carol:localhost:guess-1'));
  assert.deepEqual((await a.read(12)).subarray(8), NO);
  b.socket.write(frame('auth:carol:localhost:guess-2'));
  assert.deepEqual((await b.read(8)).subarray(4), NO);
  b.socket.write(frame('auth:carol:localhost:secret'));
  assert.deepEqual((await b.read(12)).subarray(8), NO, 'throttled across workers, right password or not');

  const text = await metrics.metrics();
  assert.match(text, /gatehouse_extauth_socket_connections 2/);
  assert.match(text, /gatehouse_extauth_lockstep_events_total\{event="desync"\} 1/);

  // Closing the server ends every worker's connection.
  const ended = Promise.all([a, b].map((w) => new Promise<void>((r) => w.socket.once('close', () => r()))));
  await server.close();
  await ended;
});
