/**
 * Configuration reload on SIGHUP (`gatehouse serve`, and the `extauth` bridge when it does not
 * run on a terminal). The file is read and validated again; a file with problems changes
 * nothing. What a reload applies: every auth script setting (external_auth_*, per host), with
 * a rolling restart of the script processes (Accounts.reload), and the failure throttling.
 * Listeners, storage, OAuth and the other settings are read once at start: when they differ,
 * the log names them as needing a restart, and the rest is applied.
 */
import { Counter, Gauge } from 'prom-client';
import type { Accounts } from '../accounts/accounts.js';
import { ReloadError } from '../accounts/errors.js';
import { ConfigError } from '../config/errors.js';
import type { GatehouseConfig, HostConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { Registry } from '../metrics/registry.js';
import { loadForCli } from './config.js';

/** Settings read once at start, by the key names of the configuration file. */
const RESTART_ONLY: readonly [string, (c: GatehouseConfig) => unknown][] = [
  ['log_level', (c) => c.logLevel],
  ['data_dir', (c) => c.dataDir],
  ['database_url', (c) => c.databaseUrl],
  ['http_ports', (c) => c.http.ports],
  ['http_interfaces', (c) => c.http.interfaces],
  ['http_trusted_proxies', (c) => c.http.trustedProxies],
  ['dovecot_auth_socket', (c) => c.dovecot.socket],
  ['dovecot_auth_socket_mode', (c) => c.dovecot.socketMode],
  ['dovecot_auth_port', (c) => c.dovecot.port],
  ['dovecot_auth_interfaces', (c) => c.dovecot.interfaces],
  ['dovecot_default_host', (c) => c.dovecot.defaultHost],
  ['dovecot_hosts', (c) => c.dovecot.hosts],
  ['oauth2_template_dir', (c) => c.templateDir],
  ['http_auth_path', (c) => c.authApi.path],
  ['http_auth_credentials', (c) => c.authApi.credentials],
];

/** The OAuth settings of a host, read once at start (the host's keys, issuer, lifetimes). */
function oauthOf(h: HostConfig | undefined): unknown {
  return h?.oauth2;
}

/**
 * The settings that differ between `before` and `after` but take effect only after a
 * restart, by key name (`[hosts."example.org"] oauth2` for a host's OAuth settings). Never
 * their values: they may be secrets.
 */
export function changesNeedingRestart(before: GatehouseConfig, after: GatehouseConfig): string[] {
  const out: string[] = [];
  for (const [key, read] of RESTART_ONLY) {
    if (JSON.stringify(read(before)) !== JSON.stringify(read(after))) out.push(key);
  }
  if (JSON.stringify(oauthOf(before.defaults)) !== JSON.stringify(oauthOf(after.defaults))) out.push('oauth2_*');
  const hosts = new Set([...before.hosts.keys(), ...after.hosts.keys()]);
  for (const host of [...hosts].sort()) {
    if (JSON.stringify(oauthOf(before.hosts.get(host))) !== JSON.stringify(oauthOf(after.hosts.get(host)))) {
      out.push(`[hosts."${host}"] oauth2_*`);
    }
  }
  return out;
}

export interface ReloadHandlerOptions {
  /** The --config flag as given (the same file is read again). */
  readonly configFlag: string | undefined;
  readonly accounts: Accounts;
  readonly logger: Logger;
  /** Count reloads and record the last success on /metrics. */
  readonly metrics?: Registry | undefined;
  readonly readyTimeoutMs?: number;
}

export type ReloadOutcome = 'applied' | 'invalid' | 'failed';

/**
 * A function that reloads once, logging the outcome; signals arriving during a reload are
 * coalesced into one more reload after it (the file may have changed again meanwhile).
 */
export function reloadHandler(options: ReloadHandlerOptions): () => Promise<ReloadOutcome> {
  const { accounts, logger: log } = options;
  const reloads =
    options.metrics === undefined
      ? null
      : new Counter({
          name: 'gatehouse_config_reloads_total',
          help: 'Configuration reloads (SIGHUP) by result: applied, invalid (the file has problems), failed (the new script processes did not come up).',
          labelNames: ['result'] as const,
          registers: [options.metrics],
        });
  const lastApplied =
    options.metrics === undefined
      ? null
      : new Gauge({
          name: 'gatehouse_config_last_reload_success_timestamp_seconds',
          help: 'When the configuration was last loaded successfully (start or reload), Unix time.',
          registers: [options.metrics],
        });
  lastApplied?.setToCurrentTime();
  // Restart-only settings are compared with what the process started with: a reload never
  // applies them, however many reloads there were.
  const started = accounts.config;

  const once = async (): Promise<ReloadOutcome> => {
    let after: GatehouseConfig;
    try {
      after = loadForCli(options.configFlag);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      log.error({ problems }, 'configuration not reloaded: the file has problems; the running configuration stays');
      reloads?.inc({ result: 'invalid' });
      return 'invalid';
    }
    const restart = changesNeedingRestart(started, after);
    try {
      const report = await accounts.reload(after, { readyTimeoutMs: options.readyTimeoutMs });
      reloads?.inc({ result: 'applied' });
      lastApplied?.setToCurrentTime();
      log.info({ ...report, config: after.source }, 'configuration reloaded: auth script processes renewed');
      if (restart.length > 0) log.warn({ settings: restart }, 'changed settings that take effect only after a restart');
      return 'applied';
    } catch (err) {
      const code = err instanceof ReloadError ? err.code : undefined;
      log.error({ code, err: (err as Error).message }, 'configuration not reloaded; the running configuration stays');
      reloads?.inc({ result: 'failed' });
      return 'failed';
    }
  };

  let running: Promise<ReloadOutcome> | null = null;
  let again = false;
  const run = (): Promise<ReloadOutcome> => {
    if (running !== null) {
      again = true;
      return running;
    }
    running = once().finally(() => {
      running = null;
      if (again) {
        again = false;
        void run();
      }
    });
    return running;
  };
  return run;
}
