/** `gatehouse extauth`: the bridge on stdin/stdout. */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Accounts } from '../accounts/accounts.js';
import { runBridge } from '../bridge/bridge.js';
import { oauthHosts } from '../oauth/host.js';
import { accountLifecycle } from '../oauth/lifecycle.js';
import { tokenVerifier } from '../oauth/token-password.js';
import { openStore } from '../storage/index.js';
import { PROTOCOL_NAMES, type ProtocolName } from '../extauth/wire/protocol.js';
import { createLogger } from '../log/pino.js';
import { loadForCli } from './config.js';
import { reloadHandler } from './reload.js';
import { UsageError } from './errors.js';
import { EXTAUTH_USAGE } from './usage.js';

export async function extauthCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      'serve-protocol': { type: 'string', default: 'generic' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(EXTAUTH_USAGE);
    return 0;
  }
  const serveProtocol = values['serve-protocol']!;
  if (!(PROTOCOL_NAMES as readonly string[]).includes(serveProtocol)) {
    throw new UsageError(`--serve-protocol must be "generic" or "ejabberd", got "${serveProtocol}"`);
  }
  const config = loadForCli(values.config);
  const hasScript =
    config.defaults.extauth.command !== null || [...config.hosts.values()].some((h) => h.extauth.command !== null);
  if (!hasScript) throw new UsageError(`${config.source}: external_auth_command is not set`);

  const log = createLogger(config.logLevel, { face: 'extauth' });
  // OAuth access tokens are accepted as passwords on hosts that serve OAuth: the bridge reads
  // the same database as `gatehouse serve`.
  const hosts = oauthHosts(config);
  const store = hosts.length > 0 ? await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }) : undefined;
  const oauthNames = new Set(hosts.map((h) => h.host));
  // A password changed or an account removed through the bridge revokes its grants (lifecycle.ts).
  const accounts = new Accounts(
    config,
    log,
    store === undefined ? undefined : tokenVerifier(store, oauthNames),
    undefined,
    store === undefined ? undefined : accountLifecycle(store, oauthNames, log),
  );

  // A terminal's line discipline would rewrite bytes (NUL, XOFF, CR) and echo queries back:
  // read it raw. libuv's raw mode keeps output processing (LF -> CRLF), so turn that off too.
  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  if (process.stdout.isTTY) {
    const r = spawnSync('stty', ['-opost'], { stdio: [process.stdout.fd, 'ignore', 'ignore'] });
    if (r.status !== 0) log.warn({}, 'stdout is a terminal and `stty -opost` failed: replies may gain a CR');
  }

  let stopping = false;
  const stop = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'stopping');
    process.stdin.pause();
    await accounts.close();
    await store?.close();
    // The bridge belongs to its server: once stopped, nothing may keep it alive.
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  // On a terminal (Prosody's mod_auth_external runs its program on a pty) SIGHUP is a hang-up:
  // stop. On pipes it is the operator asking for a reload: renew the script processes.
  if (process.stdin.isTTY) {
    process.once('SIGHUP', () => void stop('SIGHUP'));
  } else {
    const reload = reloadHandler({ configFlag: values.config, accounts, logger: log.child({ face: 'reload' }) });
    process.on('SIGHUP', () => void reload());
  }

  log.info({ serveProtocol, config: config.source }, 'extauth bridge ready');
  try {
    const stats = await runBridge({
      input: process.stdin,
      output: process.stdout,
      protocol: serveProtocol as ProtocolName,
      accounts,
      limits: { maxFieldBytes: 1023, maxQueryBytes: Math.max(...accounts.engines().map((e) => e.limits.maxQueryBytes)) },
      // Stop reading rather than overflow a pool's queue: the server waits, nothing is refused.
      // Asked each time: a reload (SIGHUP) may change the pools' capacity.
      maxInFlight: () => accounts.capacity,
      logger: log,
    });
    log.info({ ...stats }, 'input closed');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'output closed');
  }
  await stop('end of input');
  return 0;
}
