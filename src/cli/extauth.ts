/**
 * `gatehouse extauth`: the bridge on stdin/stdout. On pipes (ejabberd, a test, a shell) it
 * pipelines queries across the pool; on a terminal (Prosody's mod_auth_external_insecure runs
 * its program on a pty), or with --lockstep, it answers in lockstep (bridge/lockstep.ts).
 */
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { parseArgs } from 'node:util';
import { runBridge, servedQueryLimits, type BridgeStats } from '../bridge/bridge.js';
import { runLockstepBridge } from '../bridge/lockstep.js';
import { takeTerminal } from '../bridge/terminal.js';
import { PROTOCOL_NAMES, type ProtocolName } from '../extauth/wire/protocol.js';
import type { Logger } from '../log/logger.js';
import { createLogger } from '../log/pino.js';
import { buildServices } from '../server/services.js';
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
      lockstep: { type: 'boolean', default: false },
      'caller-timeout': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(EXTAUTH_USAGE);
    return 0;
  }
  // Take a terminal before anything else: every byte that reaches it before it is raw may be
  // echoed to the caller and is open to line editing (bridge/terminal.ts).
  const onTerminal = isatty(0);
  try {
    const early = onTerminal ? takeTerminal() : undefined;
    // From here on, input may wait unread while the bridge starts (on pipes: since the process
    // started, performance.now()'s origin): the lockstep deadline counts that wait.
    const inputSince = onTerminal ? performance.now() : 0;
    return await serveBridge(values, onTerminal, early, inputSince);
  } catch (err) {
    if (!onTerminal) throw err;
    // On Prosody's pty, stderr is the terminal Prosody reads answers from. One line that
    // cannot pass for an answer, in lpty's own form for a program that fails to start:
    // Prosody logs a read that begins with "error:" as it is. Nothing is answered after it.
    writeSync(2, `error: gatehouse extauth: ${(err as Error).message.replace(/[\r\n]+/g, ' ')}\n`);
    return 2;
  }
}

interface ExtauthFlags {
  readonly config?: string | undefined;
  readonly 'serve-protocol'?: string | undefined;
  readonly lockstep?: boolean | undefined;
  readonly 'caller-timeout'?: string | undefined;
}

async function serveBridge(values: ExtauthFlags, onTerminal: boolean, early: Buffer | undefined, inputSince: number): Promise<number> {
  const serveProtocol = values['serve-protocol']!;
  if (!(PROTOCOL_NAMES as readonly string[]).includes(serveProtocol)) {
    throw new UsageError(`--serve-protocol must be "generic" or "ejabberd", got "${serveProtocol}"`);
  }
  let callerTimeoutFlagMs: number | undefined;
  if (values['caller-timeout'] !== undefined) {
    const s = Number(values['caller-timeout']);
    if (!Number.isFinite(s) || s < 0.1 || s > 3600) throw new UsageError(`--caller-timeout must be seconds from 0.1 to 3600, got "${values['caller-timeout']}"`);
    callerTimeoutFlagMs = Math.round(s * 1000);
  }
  const config = loadForCli(values.config);
  const hasScript =
    config.defaults.extauth.command !== null || [...config.hosts.values()].some((h) => h.extauth.command !== null);
  if (!hasScript) throw new UsageError(`${config.source}: external_auth_command is not set`);

  const lockstep = onTerminal || values.lockstep === true;
  const log = createLogger(config.logLevel, { command: 'extauth' }, { file: config.logFile, notOnTerminal: true });
  if (isatty(1) || isatty(2)) guardTerminal(log);

  // The same services as `gatehouse serve` (server/services.ts): OAuth access tokens are
  // accepted as passwords, and a password changed or an account removed through the bridge
  // revokes its grants.
  const services = await buildServices(config, log);
  const { accounts } = services;

  // Node reads the terminal in raw mode too (VMIN 1: reads block again after the drain).
  if (onTerminal) process.stdin.setRawMode(true);

  let stopping = false;
  const stop = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'stopping');
    process.stdin.pause();
    await services.close();
    // The bridge belongs to its server: once stopped, nothing may keep it alive. Exit status
    // 0: Prosody's module never starts its program again after any other status.
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  // On a terminal SIGHUP is a hang-up: stop. On pipes it is the operator asking for a
  // reload: renew the script processes.
  if (onTerminal) {
    process.once('SIGHUP', () => void stop('SIGHUP'));
  } else {
    const reload = reloadHandler({ configFlag: values.config, accounts, logger: log.child({ face: 'reload' }) });
    process.on('SIGHUP', () => void reload());
  }

  const callerTimeoutMs = callerTimeoutFlagMs ?? config.extauthCallerTimeoutMs;
  log.info({ serveProtocol, config: config.source, lockstep, callerTimeoutMs: lockstep ? callerTimeoutMs : undefined }, 'extauth bridge ready');
  const limits = servedQueryLimits(accounts);
  try {
    let stats: BridgeStats;
    if (lockstep) {
      stats = await runLockstepBridge({
        input: process.stdin,
        // Synchronous: the answer is with the caller before the deadline check can go stale.
        write: (bytes) => {
          writeSync(1, bytes);
        },
        protocol: serveProtocol as ProtocolName,
        accounts,
        limits,
        callerTimeoutMs,
        early,
        inputSince,
        logger: log,
      });
    } else {
      stats = await runBridge({
        input: process.stdin,
        output: process.stdout,
        protocol: serveProtocol as ProtocolName,
        accounts,
        limits,
        // Stop reading rather than overflow a pool's queue: the server waits, nothing is refused.
        // Asked each time: a reload (SIGHUP) may change the pools' capacity.
        maxInFlight: () => accounts.capacity,
        logger: log,
      });
    }
    log.info({ ...stats }, 'input closed');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'output closed');
  }
  await stop('end of input');
  return 0;
}

/**
 * When stdout or stderr is a terminal, Prosody reads anything written there as an answer.
 * Node's own warnings go to stderr, and an uncaught error prints its stack there: send both to
 * the log instead. After an uncaught error the bridge exits with status 0, so that Prosody's
 * module starts it again (it never does after another status); the query that restarts it
 * is not answered (terminal.ts), so nothing of the failed run can be misread.
 */
function guardTerminal(log: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (w) => log.warn({ warning: w.name }, w.message));
  const die = (err: unknown): void => {
    log.error({ err: err instanceof Error ? err.stack : String(err) }, 'bridge failed; exiting');
    process.exit(0);
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
}
