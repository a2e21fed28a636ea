/**
 * The account service (src/accounts/accounts.ts) over a real auth script and a real store, for
 * the tests of test/accounts/{query,changes,hosts}.test.ts: test/fixtures/users-file.mjs (its
 * accounts in a JSON file, one process) and, for an OAuth host, the real token check and
 * lifecycle hook over SQLite in a temporary directory, as `gatehouse serve` wires them
 * (server/services.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Accounts } from '../../src/accounts/accounts.js';
import { parseConfigText } from '../../src/config/load.js';
import type { Query } from '../../src/extauth/query.js';
import { accountLifecycle } from '../../src/oauth/lifecycle.js';
import { tokenVerifier } from '../../src/oauth/token-password.js';
import { hashSecret, newSecret } from '../../src/oauth/tokens/secrets.js';
import { openSqliteStore } from '../../src/storage/sqlite-open.js';
import type { Grant, OAuthStore } from '../../src/storage/port.js';
import { childPids } from './cleanup.js';
import { MemoryLogger } from './log.js';
import { fixture } from './paths.js';
import { grantRecord, tokenRecord } from './storage-records.js';

export type Users = Record<string, Record<string, string>>;

export const HOST = 'localhost';

/**
 * users-file.mjs reads its settings from the environment; this wrapper takes them as
 * `NAME=value` arguments instead, so each test's script has its own files, and the log's short
 * name of the script (the interpreter and this file) can be checked never to show them.
 */
const WRAPPER = `for (const arg of process.argv.slice(2)) {
  const i = arg.indexOf('=');
  process.env[arg.slice(0, i)] = arg.slice(i + 1);
}
await import(${JSON.stringify(pathToFileURL(fixture('users-file.mjs')).href)});
`;

export interface Script {
  dir: string;
  /** The `external_auth_command` lines of a configuration (one process). */
  command: string;
  users(): Users;
  /** Every query the script received, as text, oldest first. */
  asked(): string[];
}

export function script(t: TestContext, users: Users, env: Record<string, string> = {}): Script {
  const dir = mkdtempSync(join(tmpdir(), 'gh-accounts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const wrapper = join(dir, 'auth-script.mjs');
  writeFileSync(wrapper, WRAPPER);
  const usersFile = join(dir, 'users.json');
  writeFileSync(usersFile, JSON.stringify(users));
  const recordFile = join(dir, 'queries.hex');
  const args = [process.execPath, wrapper, `USERS_FILE=${usersFile}`, `RECORD_FILE=${recordFile}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  return {
    dir,
    command: `external_auth_command = ${JSON.stringify(args)}\nexternal_auth_timeout = 30\nexternal_auth_processes = 1`,
    users: () => JSON.parse(readFileSync(usersFile, 'utf8')) as Users,
    asked: () =>
      existsSync(recordFile)
        ? readFileSync(recordFile, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => Buffer.from(l, 'hex').toString('utf8'))
        : [],
  };
}

/** Live (not zombie) children of this test process. */
function liveChildren(): number[] {
  return childPids(process.pid).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  });
}

/**
 * Close the services: once close() has resolved, no script process they started may be left.
 * Any left is killed here (the test process's only children are the scripts of the services
 * it runs, all of which are passed), and the test fails.
 */
export async function closeAll(...services: Accounts[]): Promise<void> {
  try {
    for (const accounts of services) await accounts.close({ force: true });
  } finally {
    const left = liveChildren();
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    assert.deepEqual(left, [], 'close() left script processes behind');
  }
}

export interface Service {
  accounts: Accounts;
  store: OAuthStore;
  log: MemoryLogger;
  s: Script;
}

/**
 * Accounts as `gatehouse serve` wires them for an OAuth host over SQLite (server/services.ts).
 * The script serves every host, or with `scriptHost` that host only (HOST then has none).
 */
export async function service(
  t: TestContext,
  users: Users,
  extra = '',
  env: Record<string, string> = {},
  { scriptHost }: { scriptHost?: string } = {},
): Promise<Service> {
  const s = script(t, users, env);
  const store = await openSqliteStore(join(s.dir, 'gatehouse.sqlite'));
  const log = new MemoryLogger();
  const names = new Set([HOST]);
  const text = scriptHost === undefined ? `${s.command}\n${extra}` : `${extra}\n[hosts.${JSON.stringify(scriptHost)}]\n${s.command}`;
  const accounts = new Accounts(parseConfigText(text), log, tokenVerifier(store, names), undefined, accountLifecycle(store, names, log));
  // Registered after the directory's removal, so run before it: the script ends first.
  t.after(async () => {
    try {
      await closeAll(accounts);
    } finally {
      // A test may have closed it already, to make the store fail.
      await store.close().catch(() => {});
    }
  });
  return { accounts, store, log, s };
}

/** A live grant of `user` with an access token allowing XMPP logins: the token, used as a password. */
export async function holdToken(store: OAuthStore, user: string): Promise<{ grant: Grant; token: string }> {
  const now = Date.now();
  const grant = grantRecord({ host: HOST, user, scope: 'xmpp', createdAt: now, lastUsedAt: now, authTime: now, generation: await store.accountGeneration(HOST, user) });
  await store.createGrant(grant);
  const token = newSecret();
  await store.saveToken(tokenRecord(grant.id, { hash: hashSecret(token), kind: 'access', scope: 'xmpp', createdAt: now, expiresAt: now + 3_600_000 }));
  return { grant, token };
}

export async function revoked(store: OAuthStore, grant: Grant): Promise<boolean> {
  return (await store.getGrant(grant.id))!.revokedAt !== null;
}

export const auth = (user: string, password: string, host = HOST): Query => ({ command: 'auth', user, host, password });
