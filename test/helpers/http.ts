/** Start the real HTTP app on 127.0.0.1 with a given config; stop it after the test. */
import type { TestContext } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { parseConfigText } from '../../src/config/load.js';
import { buildApp } from '../../src/server/http-app.js';
import { MemoryLogger } from './log.js';

export async function startHttp(t: TestContext, toml: string): Promise<{ base: string; log: MemoryLogger }> {
  const config = parseConfigText(toml);
  const log = new MemoryLogger();
  const accounts = new Accounts(config, log);
  const app = await buildApp({ config, accounts, hosts: [], logger: log });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await app.close();
    await accounts.close();
  });
  return { base: address, log };
}

/** POST a form the way mod_auth_http does (its Content-Type spelling included). */
export function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x/www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}
