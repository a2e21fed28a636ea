/**
 * `gatehouse serve`: the long-running service. HTTP (auth API, /healthz, /readyz, /metrics) on
 * every configured interface and port, plus the Dovecot auth protocol when a socket or port is
 * configured. SIGTERM/SIGINT stop it gracefully: listeners close, requests in flight finish,
 * scripts end. SIGHUP reloads the configuration (src/cli/reload.ts).
 */
import { parseArgs } from 'node:util';
import { Accounts } from '../accounts/accounts.js';
import { servedQueryLimits } from '../bridge/bridge.js';
import { ExtauthSocketServer } from '../bridge/socket-server.js';
import { DovecotAuthServer } from '../dovecot/server.js';
import { buildApp } from '../http/app.js';
import { createRegistry } from '../metrics/registry.js';
import { oauthHosts } from '../oauth/host.js';
import { accountLifecycle } from '../oauth/lifecycle.js';
import { tokenVerifier } from '../oauth/token-password.js';
import { openStore } from '../storage/index.js';
import { createLogger } from '../log/pino.js';
import { loadForCli } from './config.js';
import { reloadHandler } from './reload.js';

export const SERVE_USAGE = `Usage: gatehouse serve [--config FILE]

Serves the OAuth 2.0 endpoints of every host with an oauth2_issuer, the auth HTTP API
(Prosody mod_auth_http), /healthz (liveness), /readyz (readiness: every auth script pool
has a process up and storage answers) and /metrics (Prometheus) on http_interfaces x http_ports,
the Dovecot auth protocol (Postfix, Exim, Prosody mod_auth_dovecot) on dovecot_auth_socket
and/or dovecot_auth_port, and the extauth protocol (ejabberd's workers, one connection each)
on extauth_socket and/or extauth_port, all answered by the auth script of external_auth_command.

Signals: SIGTERM or SIGINT stop gracefully. SIGHUP reads the configuration file again and
renews the auth script processes without failing a query (new processes start beside the
old ones, which finish their queries); a file with problems, or a script that does not
start, changes nothing. Listener, storage and OAuth settings need a restart.
`;

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, help: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  const config = loadForCli(values.config);
  const log = createLogger(config.logLevel, { command: 'serve' }, { file: config.logFile });
  // Storage is opened only when a host serves OAuth: the auth API and the Dovecot face need none.
  const hosts = oauthHosts(config);
  // Storage is needed by OAuth hosts, and by several instances sharing PostgreSQL (their
  // failed-login counters live there even without OAuth).
  const store =
    hosts.length > 0 || config.databaseUrl !== null ? await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }) : undefined;
  const verifier = store === undefined ? undefined : tokenVerifier(store, new Set(hosts.map((h) => h.host)));
  // With PostgreSQL several instances share the database: failed logins are counted there, so
  // a guesser cannot spread attempts over them. One SQLite instance counts in memory.
  const counters = store !== undefined && config.databaseUrl !== null ? store : undefined;
  const lifecycle = store === undefined ? undefined : accountLifecycle(store, new Set(hosts.map((h) => h.host)), log);
  const accounts = new Accounts(config, log, verifier, counters, lifecycle);
  // One registry for the process: the process metrics and every face's metrics, on /metrics.
  const metrics = createRegistry();
  const app = await buildApp({ config, accounts, store, logger: log, metrics });
  const dovecot =
    config.dovecot.socket !== null || config.dovecot.port !== null
      ? new DovecotAuthServer({ accounts, defaultHost: config.dovecot.defaultHost, hosts: config.dovecot.hosts, logger: log.child({ face: 'dovecot' }) })
      : null;
  const extauth =
    config.extauthSocket.socket !== null || config.extauthSocket.port !== null
      ? new ExtauthSocketServer({
          accounts,
          protocol: config.extauthSocket.protocol,
          callerTimeoutMs: config.extauthSocket.callerTimeoutMs,
          limits: servedQueryLimits(accounts),
          logger: log.child({ face: 'extauth' }),
          metrics,
        })
      : null;

  try {
    const addresses: string[] = [];
    for (const host of config.http.interfaces) {
      for (const port of config.http.ports) addresses.push(await app.listen({ host, port }));
    }
    log.info({ addresses }, 'HTTP listening');
    if (dovecot !== null) {
      const ports: (number | undefined)[] = [];
      if (config.dovecot.socket !== null) await dovecot.listen({ socket: config.dovecot.socket, socketMode: config.dovecot.socketMode });
      if (config.dovecot.port !== null) {
        for (const host of config.dovecot.interfaces) ports.push((await dovecot.listen({ port: config.dovecot.port, host })).port);
      }
      log.info({ socket: config.dovecot.socket, ports }, 'Dovecot auth protocol listening');
    }
    if (extauth !== null) {
      const s = config.extauthSocket;
      const ports: (number | undefined)[] = [];
      if (s.socket !== null) await extauth.listen({ socket: s.socket, socketMode: s.socketMode });
      if (s.port !== null) for (const host of s.interfaces) ports.push((await extauth.listen({ port: s.port, host })).port);
      log.info({ socket: s.socket, ports, protocol: s.protocol }, 'extauth protocol listening');
    }
  } catch (err) {
    log.error({ err: (err as Error).message }, 'cannot listen');
    await Promise.allSettled([app.close(), dovecot?.close(), extauth?.close(), accounts.close()]);
    await store?.close();
    throw err;
  }

  // Expired codes, tokens, device codes and throttle windows are dropped every ten minutes
  // (each instance may do it: the deletes are idempotent).
  const sweeper =
    store === undefined
      ? undefined
      : setInterval(() => {
          store.sweep(Date.now()).catch((err: Error) => log.warn({ err: err.message }, 'sweep of expired rows failed'));
        }, 600_000).unref();

  // SIGHUP: read the file again and roll the auth script processes (src/cli/reload.ts).
  const reload = reloadHandler({ configFlag: values.config, accounts, logger: log.child({ face: 'reload' }), metrics });
  let stopping = false;
  const onHangup = (): void => {
    // Still handled while stopping: SIGHUP's default action would end the process abruptly.
    if (stopping) return;
    log.info({ signal: 'SIGHUP' }, 'reloading the configuration');
    void reload();
  };
  process.on('SIGHUP', onHangup);

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  stopping = true;
  clearInterval(sweeper);
  await Promise.allSettled([app.close(), dovecot?.close(), extauth?.close()]);
  await accounts.close();
  await store?.close();
  log.info({}, 'stopped');
  return 0;
}
