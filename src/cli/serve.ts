/**
 * `gatehouse serve`: the long-running service. HTTP (auth API, /healthz, /readyz, /metrics) on
 * every configured interface and port, plus the Dovecot auth protocol when a socket or port is
 * configured. SIGTERM/SIGINT stop it gracefully: listeners close, requests in flight finish,
 * scripts end. SIGHUP reloads the configuration (src/cli/reload.ts).
 */
import { isatty } from 'node:tty';
import { parseArgs } from 'node:util';
import { createLogger } from '../log/pino.js';
import { startLine, startService } from '../server/service.js';
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
  const running = await startService(config, log);
  // Whatever the log level: a first run must show that it started and where it listens.
  announce(startLine(config, running.services, running.listening), config.logFile === null);

  // SIGHUP: read the file again and roll the auth script processes (src/cli/reload.ts).
  const reload = reloadHandler({ configFlag: values.config, accounts: running.services.accounts, logger: log.child({ face: 'reload' }), metrics: running.metrics });
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
  await running.close();
  log.info({}, 'stopped');
  return 0;
}

/**
 * Writes the start line on stderr. Where stderr carries the JSON log lines and is read by a
 * program (not a terminal), the line is a JSON log line itself, so that a log collector never
 * meets a line it cannot parse; on a terminal, or when the log goes to a file, it is text.
 */
function announce(text: string, stderrCarriesLog: boolean): void {
  if (stderrCarriesLog && !isatty(2)) {
    process.stderr.write(`${JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, command: 'serve', msg: text })}\n`);
  } else {
    process.stderr.write(`${text}\n`);
  }
}
