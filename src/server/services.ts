/**
 * The composition root's first half: what every face shares, built once from the
 * configuration. `gatehouse serve`, the `gatehouse extauth` bridge and `gatehouse doctor` all
 * take their store, OAuth hosts and accounts from here, so that a rule such as "the bridge
 * accepts OAuth access tokens as passwords" or "a password change revokes the account's
 * grants" holds the same whichever program answers.
 */
import { Accounts } from '../accounts/accounts.js';
import { oauthHostNames, type GatehouseConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { OAuthHost } from '../oauth/host.js';
import { accountLifecycle } from '../oauth/lifecycle.js';
import { tokenVerifier } from '../oauth/token-password.js';
import { openStore } from '../storage/open.js';
import type { OAuthStore } from '../storage/port.js';

export interface Services {
  readonly config: GatehouseConfig;
  /** Every host with an `oauth2_issuer`, built once. */
  readonly hosts: readonly OAuthHost[];
  /** Open when a host serves OAuth or a database is configured; else undefined. */
  readonly store: OAuthStore | undefined;
  readonly accounts: Accounts;
  /** Ends the script processes, then closes the store. */
  close(): Promise<void>;
}

/**
 * Whether the configuration needs the database: OAuth hosts keep their grants there, and
 * instances that share PostgreSQL count failed logins there even without OAuth.
 */
export function needsStore(config: GatehouseConfig, hosts: readonly OAuthHost[]): boolean {
  return hosts.length > 0 || config.databaseUrl !== null;
}

/** Opens the database of the configuration (PostgreSQL, or SQLite in the data directory). */
export function openConfiguredStore(config: GatehouseConfig): Promise<OAuthStore> {
  return openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
}

/**
 * The accounts of a configuration over an open store (or none): OAuth access tokens of the
 * configured hosts are accepted as passwords (RFC 6750 tokens in the password field, as
 * XMPP clients send them), account changes revoke the account's grants, and with PostgreSQL
 * failed logins are counted in the database, so a guesser cannot spread attempts over
 * several instances (one SQLite instance counts in memory).
 */
export function wireAccounts(config: GatehouseConfig, log: Logger, hosts: readonly OAuthHost[], store: OAuthStore | undefined): Accounts {
  if (store === undefined) return new Accounts(config, log);
  const names = new Set(hosts.map((h) => h.host));
  const counters = config.databaseUrl !== null ? store : undefined;
  return new Accounts(config, log, tokenVerifier(store, names), counters, accountLifecycle(store, names, log));
}

/** Builds the shared services of a configuration; the caller closes them. */
export async function buildServices(config: GatehouseConfig, log: Logger): Promise<Services> {
  // The OAuth code (and jose) is loaded only when a host serves OAuth (an `oauth2_issuer`).
  const hosts = oauthHostNames(config).length > 0 ? (await import('../oauth/host.js')).oauthHosts(config) : [];
  const store = needsStore(config, hosts) ? await openConfiguredStore(config) : undefined;
  const accounts = wireAccounts(config, log, hosts, store);
  return {
    config,
    hosts,
    store,
    accounts,
    async close() {
      await accounts.close();
      await store?.close();
    },
  };
}
