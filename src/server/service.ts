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
import type { ListenOptions } from '../net/listen.js';
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
      const ports = await listenStream(dovecot, d, listening.dovecot);
      log.info({ socket: d.socket, ports }, 'Dovecot auth protocol listening');
    }
    if (extauth !== null) {
      const ports = await listenStream(extauth, x, listening.extauth);
      // handoff: whether connectors can hand their workers' pipes over (the fdpass addon is built).
      log.info({ socket: x.socket, ports, protocol: x.protocol, handoff: extauth.handoff }, 'extauth protocol listening');
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

/** Where a stream face listens, as the configuration gives it (Dovecot, extauth). */
interface StreamPlaces {
  readonly socket: string | null;
  readonly socketMode: number;
  readonly port: number | null;
  readonly interfaces: readonly string[];
}

/**
 * Listens on the face's Unix socket and on its port on each interface; adds each place to
 * `where` and resolves with the bound ports.
 */
async function listenStream(face: { listen(o: ListenOptions): Promise<{ port?: number }> }, at: StreamPlaces, where: string[]): Promise<(number | undefined)[]> {
  const ports: (number | undefined)[] = [];
  if (at.socket !== null) {
    await face.listen({ socket: at.socket, socketMode: at.socketMode });
    where.push(at.socket);
  }
  if (at.port !== null) {
    for (const host of at.interfaces) {
      const { port } = await face.listen({ port: at.port, host });
      ports.push(port);
      where.push(hostPort(host, port));
    }
  }
  return ports;
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
