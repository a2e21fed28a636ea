/**
 * `gatehouse check-script [options] -- CMD [ARGS...]`: probe an auth script and report what
 * it gets wrong. Exit code 0 when nothing failed, 1 when something did, 2 on a usage error.
 * Argument parsing is pure (parseCheckScriptArgs) and separate from running the check.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkScript } from '../checkscript/run.js';
import { renderJson, renderText } from '../checkscript/report.js';
import type { KnownAccount } from '../checkscript/context.js';
import { ExtauthError } from '../extauth/errors.js';
import { DEFAULT_QUERY_LIMITS, validateQuery } from '../extauth/query.js';
import { PROTOCOL_NAMES, type ProtocolName } from '../extauth/wire/protocol.js';
import { UsageError } from './errors.js';
import { CHECK_SCRIPT_USAGE } from './usage.js';

export interface CheckScriptArgs {
  readonly help: boolean;
  readonly argv: readonly string[];
  readonly protocol: ProtocolName;
  readonly timeoutMs: number;
  readonly json: boolean;
  readonly maxQueryBytes: number;
  readonly user?: string | undefined;
  readonly host?: string | undefined;
  readonly password?: string | undefined;
  readonly passwordFile?: string | undefined;
}

/** Parse the command line. Throws UsageError (or parseArgs' ERR_PARSE_ARGS_*) on mistakes. */
export function parseCheckScriptArgs(args: readonly string[]): CheckScriptArgs {
  const { values, tokens } = parseArgs({
    args: [...args],
    options: {
      protocol: { type: 'string', default: 'generic' },
      timeout: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
      user: { type: 'string' },
      host: { type: 'string' },
      password: { type: 'string' },
      'password-file': { type: 'string' },
      'max-query-bytes': { type: 'string', default: String(DEFAULT_QUERY_LIMITS.maxQueryBytes) },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: true,
    tokens: true,
  });
  if (values.help) {
    return { help: true, argv: [], protocol: 'generic', timeoutMs: 5000, json: false, maxQueryBytes: DEFAULT_QUERY_LIMITS.maxQueryBytes };
  }

  // Only what follows `--` is the script's command line: its own options must never be taken
  // for ours, so a bare positional before `--` is a mistake, not the start of the command.
  const terminator = tokens.find((t) => t.kind === 'option-terminator');
  const early = tokens.find((t) => t.kind === 'positional' && (terminator === undefined || t.index < terminator.index));
  if (early !== undefined && early.kind === 'positional') {
    throw new UsageError(`unexpected argument "${early.value}": put the script's command after "--"`);
  }
  const argv = terminator === undefined ? [] : args.slice(terminator.index + 1);
  if (argv.length === 0) throw new UsageError('no script given: gatehouse check-script [options] -- CMD [ARGS...]');
  if (argv[0] === '') throw new UsageError('the command is empty');

  const protocol = values.protocol!;
  if (!(PROTOCOL_NAMES as readonly string[]).includes(protocol)) {
    throw new UsageError(`--protocol must be "generic" or "ejabberd", got "${protocol}"`);
  }
  const timeout = Number(values.timeout);
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(values.timeout!) || !(timeout >= 0.01 && timeout <= 3600)) {
    throw new UsageError(`--timeout must be a number of seconds from 0.01 to 3600, got "${values.timeout}"`);
  }
  const maxQueryBytes = Number(values['max-query-bytes']);
  if (!/^\d+$/.test(values['max-query-bytes']!) || maxQueryBytes < 64 || maxQueryBytes > 65535) {
    throw new UsageError(`--max-query-bytes must be an integer from 64 to 65535, got "${values['max-query-bytes']}"`);
  }
  if (values.password !== undefined && values['password-file'] !== undefined) {
    throw new UsageError('give --password or --password-file, not both');
  }
  const hasPassword = values.password !== undefined || values['password-file'] !== undefined;
  const given = [values.user !== undefined, values.host !== undefined, hasPassword];
  if (given.some(Boolean) && !given.every(Boolean)) {
    throw new UsageError('a known account needs all of --user, --host and --password (or --password-file)');
  }
  return {
    help: false,
    argv,
    protocol: protocol as ProtocolName,
    timeoutMs: Math.round(timeout * 1000),
    json: values.json ?? false,
    maxQueryBytes,
    user: values.user,
    host: values.host,
    password: values.password,
    passwordFile: values['password-file'],
  };
}

/** The known account, read and checked the way the engine would check its queries. */
function knownAccount(a: CheckScriptArgs): KnownAccount | undefined {
  if (a.user === undefined || a.host === undefined) return undefined;
  let password = a.password;
  if (a.passwordFile !== undefined) {
    // The first line, without its ending: a password on the command line shows in `ps`.
    try {
      password = readFileSync(a.passwordFile, 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (err) {
      throw new UsageError(`cannot read --password-file: ${(err as Error).message}`);
    }
  }
  if (password === undefined || password === '') {
    throw new UsageError('the known account needs a non-empty password (an empty one is answered "no" without asking the script)');
  }
  try {
    validateQuery(
      { command: 'auth', user: a.user, host: a.host, password },
      { maxFieldBytes: DEFAULT_QUERY_LIMITS.maxFieldBytes, maxQueryBytes: a.maxQueryBytes },
    );
  } catch (err) {
    if (err instanceof ExtauthError) throw new UsageError(`the known account cannot be sent to a script: ${err.message}`);
    throw err;
  }
  return { user: a.user, host: a.host, password };
}

export async function checkScriptCommand(args: string[]): Promise<number> {
  const a = parseCheckScriptArgs(args);
  if (a.help) {
    process.stdout.write(CHECK_SCRIPT_USAGE);
    return 0;
  }
  const account = knownAccount(a);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  // The scripts run in their own process groups, out of reach of the terminal's Ctrl-C:
  // the check must end them itself.
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const report = await checkScript({
      argv: a.argv,
      protocol: a.protocol,
      timeoutMs: a.timeoutMs,
      account,
      maxQueryBytes: a.maxQueryBytes,
      signal: controller.signal,
    });
    process.stdout.write(a.json ? renderJson(report) : renderText(report));
    return report.ok ? 0 : 1;
  } catch (err) {
    if (controller.signal.aborted) {
      process.stderr.write('gatehouse check-script: interrupted\n');
      return 130;
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
