/**
 * `gatehouse doctor`: checks a configuration and everything it points at, and prints what is
 * wrong, before a deployment finds out: the file itself (every problem at once), each auth
 * script (check-script's probes with the configured protocol, timeout and query limit), the
 * data directory and the database (opened and migrated), and the listening addresses.
 * Exit code 1 when anything fails.
 */
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { checkScript } from '../checkscript/run.js';
import { renderText } from '../checkscript/report.js';
import { ConfigError } from '../config/errors.js';
import type { ExtauthConfig, GatehouseConfig } from '../config/types.js';
import { oauthHosts } from '../oauth/host.js';
import { needsStore, openConfiguredStore } from '../server/services.js';
import { configPath, loadForCli } from './config.js';

export const DOCTOR_USAGE = `Usage: gatehouse doctor [--config FILE] [--skip-script]

Checks the configuration, runs check-script's probes on every configured auth script, opens
the database, and tries the listening addresses. Prints what is wrong; exit code 1 if anything is.
`;

type Line = { ok: boolean; what: string; detail: string };

export async function doctorCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, 'skip-script': { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(DOCTOR_USAGE);
    return 0;
  }
  const lines: Line[] = [];
  const say = (ok: boolean, what: string, detail: string): void => {
    lines.push({ ok, what, detail });
    process.stdout.write(`${ok ? 'ok  ' : 'FAIL'}  ${what}: ${detail}\n`);
  };

  let config: GatehouseConfig;
  try {
    config = loadForCli(values.config);
    say(true, 'configuration', `${config.source} is valid`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    say(false, 'configuration', `${configPath(values.config)}:\n${err.problems.map((p) => `        - ${p}`).join('\n')}`);
    return 1;
  }

  // Each distinct script once (hosts may share one).
  const scripts = new Map<string, ExtauthConfig>();
  for (const h of [config.defaults, ...config.hosts.values()]) {
    if (h.extauth.command !== null) scripts.set(JSON.stringify([h.extauth.command, h.extauth.protocol]), h.extauth);
  }
  if (scripts.size === 0) say(false, 'auth script', 'external_auth_command is not set anywhere');
  for (const x of scripts.values()) {
    const name = x.command!.join(' ');
    if (values['skip-script']) {
      say(true, `auth script ${name}`, 'not probed (--skip-script)');
      continue;
    }
    const report = await checkScript({ argv: x.command!, protocol: x.protocol, timeoutMs: x.timeoutMs, maxQueryBytes: x.maxQueryBytes, cwd: x.cwd });
    const failures = report.findings.filter((f) => f.severity === 'fail');
    say(report.ok, `auth script ${name}`, report.ok ? `passes check-script (${x.protocol} protocol)` : `${failures.length} problem(s):\n${renderText(report)}`);
  }

  if (needsStore(config, oauthHosts(config))) {
    try {
      const store = await openConfiguredStore(config);
      await store.getGrant('doctor-probe');
      await store.close();
      say(true, 'database', config.databaseUrl === null ? `SQLite in ${config.dataDir} opens and is migrated` : 'opens and is migrated');
    } catch (err) {
      say(false, 'database', (err as Error).message);
    }
    if (config.databaseUrl === null) {
      try {
        accessSync(config.dataDir, constants.W_OK);
        say(true, 'data directory', `${config.dataDir} is writable`);
      } catch {
        say(false, 'data directory', `${config.dataDir} is not writable`);
      }
    }
  }

  for (const host of config.http.interfaces) {
    for (const port of config.http.ports) {
      const free = await canListen(host, port);
      say(free === null, `listen ${host}:${port}`, free === null ? 'available' : free);
    }
  }
  const failed = lines.filter((l) => !l.ok).length;
  process.stdout.write(failed === 0 ? '\nAll checks passed.\n' : `\n${failed} check(s) failed.\n`);
  return failed === 0 ? 0 : 1;
}

/** null when `host:port` can be bound now, else why not. */
function canListen(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE' ? 'in use (is Gatehouse already running?)' : `${err.code}: ${err.message}`));
    s.listen(port, host, () => s.close(() => resolve(null)));
  });
}
