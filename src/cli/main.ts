/**
 * The `gatehouse` command: a thin shell over library calls (giget's cli). Errors print their
 * message only (with --verbose, the stack); the exit code is returned, not forced.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import { UsageError } from './errors.js';
import { MAIN_USAGE } from './usage.js';

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = Object.assign(Object.create(null), {
  extauth: async () => (await import('./extauth.js')).extauthCommand,
  serve: async () => (await import('./serve.js')).serveCommand,
  doctor: async () => (await import('./doctor.js')).doctorCommand,
  'check-script': async () => (await import('./check-script.js')).checkScriptCommand,
});

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const [name, ...rest] = args;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(MAIN_USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    process.stderr.write(`gatehouse: unknown command "${name}"\n\n${MAIN_USAGE}`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`gatehouse ${name}: ${(err as Error).message}\n(see gatehouse ${name} --help)\n`);
      return 2;
    }
    process.stderr.write(`gatehouse ${name}: ${verbose ? (err as Error).stack : (err as Error).message}\n`);
    return 1;
  }
}
