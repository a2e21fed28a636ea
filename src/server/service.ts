/**
 * The composition root of `gatehouse serve`: the shared services (services.ts), one metrics
 * registry, and every face the configuration asks for, built once and started together:
 * HTTP (auth API, OAuth hosts, health and metrics), the Dovecot auth protocol and the extauth
 * protocol. What it returns is what the command needs to report and to stop.
 */
import { servedQueryLimits } from '../bridge/bridge.js';
import { ExtauthSocketServer } from '../bridge/socket-server.js';
import type { GatehouseConfig } from '../config/types.js';
import { DovecotAuthServer } from '../dovecot/server.js';
import type { Logger } from '../log/logger.js';
import { createRegistry, type Registry } from '../metrics/registry.js';
import { buildApp } from './http-app.js';
import { buildServices, type Services } from './services.js';

/** Where each face listens, for the start line and the log. */
export interface Listening {
  readonly http: readonly string[];
  readonly dovecot: readonly string[];
  readonly extauth: readonly string[];
}

export interface RunningService {
  readonly services: Services;
  readonly metrics: Registry;
  readonly listening: Listening;
  /** Stops accepting, lets requests in flight finish, ends the scripts, closes the store. */
  close(): Promise<void>;
}

/** Expired codes, tokens, device codes and throttle windows are dropped this often. */
const SWEEP_INTERVAL_MS = 600_000;

/**
 * Builds every face of the configuration and listens. A listener that cannot be opened stops
 * the whole start (nothing is left listening) and rejects with its error.
 */
export async function startService(config: GatehouseConfig, log: Logger): Promise<RunningService> {
  const services = await buildServices(config, log);
  const { accounts, store, hosts } = services;
  // One registry for the process: the process metrics and every face's metrics, on /metrics.
  const metrics = createRegistry();
  const app = await buildApp({ config, accounts, hosts, store, logger: log, metrics });
  const d = config.dovecot;
  const dovecot =
    d.socket !== null || d.port !== null
      ? new DovecotAuthServer({ accounts, defaultHost: d.defaultHost, hosts: d.hosts, logger: log.child({ face: 'dovecot' }) })
      : null;
  const x = config.extauthSocket;
  const extauth =
    x.socket !== null || x.port !== null
      ? new ExtauthSocketServer({
          accounts,
          protocol: x.protocol,
          callerTimeoutMs: x.callerTimeoutMs,
          limits: servedQueryLimits(accounts),
          logger: log.child({ face: 'extauth' }),
          metrics,
        })
      : null;
  const closeFaces = async (): Promise<void> => {
    await Promise.allSettled([app.close(), dovecot?.close(), extauth?.close()]);
  };

  const listening = { http: [] as string[], dovecot: [] as string[], extauth: [] as string[] };
  try {
    for (const host of config.http.interfaces) {
      for (const port of config.http.ports) listening.http.push(await app.listen({ host, port }));
    }
    log.info({ addresses: listening.http }, 'HTTP listening');
    if (dovecot !== null) {
      const ports: (number | undefined)[] = [];
      if (d.socket !== null) {
        await dovecot.listen({ socket: d.socket, socketMode: d.socketMode });
        listening.dovecot.push(d.socket);
      }
      if (d.port !== null) {
        for (const host of d.interfaces) {
          const { port } = await dovecot.listen({ port: d.port, host });
          ports.push(port);
          listening.dovecot.push(hostPort(host, port));
        }
      }
      log.info({ socket: d.socket, ports }, 'Dovecot auth protocol listening');
    }
    if (extauth !== null) {
      const ports: (number | undefined)[] = [];
      if (x.socket !== null) {
        await extauth.listen({ socket: x.socket, socketMode: x.socketMode });
        listening.extauth.push(x.socket);
      }
      if (x.port !== null) {
        for (const host of x.interfaces) {
          const { port } = await extauth.listen({ port: x.port, host });
          ports.push(port);
          listening.extauth.push(hostPort(host, port));
        }
      }
      log.info({ socket: x.socket, ports, protocol: x.protocol }, 'extauth protocol listening');
    }
  } catch (err) {
    log.error({ err: (err as Error).message }, 'cannot listen');
    await closeFaces();
    await services.close();
    throw err;
  }

  // Each instance may sweep: the deletes are idempotent.
  const sweeper =
    store === undefined
      ? undefined
      : setInterval(() => {
          store.sweep(Date.now()).catch((err: Error) => log.warn({ err: err.message }, 'sweep of expired rows failed'));
        }, SWEEP_INTERVAL_MS).unref();

  return {
    services,
    metrics,
    listening,
    async close() {
      clearInterval(sweeper);
      await closeFaces();
      await services.close();
    },
  };
}

function hostPort(host: string, port: number | undefined): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The one line `gatehouse serve` prints on start whatever the log level: where it listens and
 * what it serves, so that a first run is never silent.
 */
export function startLine(config: GatehouseConfig, services: Services, listening: Listening): string {
  const parts = [`HTTP on ${listening.http.join(', ')} (auth API at ${config.authApi.path}`];
  const oauth = services.hosts.map((h) => h.issuer);
  parts[0] += oauth.length > 0 ? `; OAuth issuer${oauth.length > 1 ? 's' : ''} ${oauth.join(', ')})` : '; no OAuth host)';
  if (listening.dovecot.length > 0) parts.push(`Dovecot auth on ${listening.dovecot.join(', ')}`);
  if (listening.extauth.length > 0) parts.push(`extauth (${config.extauthSocket.protocol}) on ${listening.extauth.join(', ')}`);
  const store = services.store === undefined ? 'no database' : config.databaseUrl !== null ? 'PostgreSQL' : `SQLite in ${config.dataDir}`;
  return `gatehouse serve: ${parts.join('; ')}; ${store}; config ${config.source}`;
}
