// A private, loopback-only Dovecot 2.3 IMAP server (Debian `dovecot-imapd`) whose passdb is
// `oauth2`: it checks the OAuth bearer tokens of AUTHENTICATE OAUTHBEARER and XOAUTH2 by
// introspection (RFC 7662) at a Gatehouse issuer, for interop tests.
//
// Each instance gets its own temp dir (mode 0755, so Dovecot's unprivileged processes can read
// it) holding dovecot.conf, dovecot-oauth2.conf.ext, base_dir (sockets, master.pid), state_dir,
// one log file (no syslog here) and the users' homes. It runs in the foreground (`dovecot -F`)
// as root, in a process group of its own; its internal processes run as `dovecot`, login
// processes as `dovenull`, and mail processes as `nobody` (first_valid_uid lowered for it).
// imap-login listens on a free port of 127.0.0.1 only, without TLS (ssl = no, plaintext auth
// allowed: loopback only). Stopped with SIGTERM to the master, a bounded wait, then SIGKILL of
// the group.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onFreePort } from '../helpers/net.js';
import { killOnTestExit, killQuiet, rmQuiet, sleep } from '../helpers/cleanup.js';

export const DOVECOT_BIN = process.env.GATEHOUSE_DOVECOT_BIN ?? '/usr/sbin/dovecot';

export interface DovecotOAuthOptions {
  /** The issuer's introspection endpoint, without credentials. */
  introspectionUrl: string;
  /** The resource-server credential Gatehouse knows (oauth2_introspection_credentials). */
  clientId: string;
  clientSecret: string;
  /** How Dovecot sends them: in the URL (HTTP Basic) or as client_id/client_secret settings. */
  credentialsIn?: 'url' | 'settings';
  /** Dovecot's own `scope` setting (it then checks the introspected scope too); default none. */
  scope?: string;
  /** Introspection answer field compared with the login name (default `username`). */
  usernameAttribute?: string;
  /**
   * Validate JWT access tokens locally (`introspection_mode = local`) with these public keys
   * (the issuer's JWKS) instead of introspecting: each is written as PEM to
   * `keys/default/ES256/<kid>` under the instance's dir. Dovecot looks up the dict key
   * `shared/default/ES256/<kid>` (`default`: the tokens carry no `azp`), and
   * `local_validation_key_dict = fs:posix:prefix=<dir>/keys/` reads it from that file.
   */
  localValidation?: { issuer: string; keys: readonly (JsonWebKey & { kid: string })[] };
}

/**
 * For benchmarks: another passdb in place of the oauth2 one (or beside it), and extra
 * settings appended to dovecot.conf. Each function gets the instance's dir.
 */
export interface DovecotImapExtra {
  /** auth_mechanisms (default `oauthbearer xoauth2`). */
  authMechanisms?: string;
  /** passdb blocks; default the oauth2 passdb (which then needs the oauth options). */
  passdbs?: (dir: string) => string;
  /** Lines inside `service imap-login { }` (process reuse for a benchmark). */
  imapLoginSettings?: string;
  /** Lines appended to dovecot.conf (other services, protocol settings). */
  extraConf?: string;
  /** Quieter: no auth_debug/auth_verbose and no oauth2 `debug` (a benchmark's log stays small). */
  quiet?: boolean;
  /** Called with the dir before Dovecot starts (to write files its passdb needs). */
  prepare?: (dir: string) => void;
}

export interface DovecotImap {
  port: number;
  dir: string;
  /** The dovecot-oauth2.conf.ext written for this instance. */
  oauth2Conf: string;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** The dovecot-oauth2.conf.ext lines (also what the README shows). */
export function oauth2ConfText(o: DovecotOAuthOptions, keysDir?: string, debug = true): string {
  const url = new URL(o.introspectionUrl);
  const settings = o.credentialsIn === 'settings';
  if (!settings) {
    url.username = encodeURIComponent(o.clientId);
    url.password = encodeURIComponent(o.clientSecret);
  }
  const local = o.localValidation !== undefined && keysDir !== undefined;
  return [
    local ? 'introspection_mode = local' : 'introspection_mode = post',
    ...(local ? [`local_validation_key_dict = fs:posix:prefix=${keysDir}/`, `issuers = ${o.localValidation!.issuer}`] : []),
    `introspection_url = ${url.toString()}`,
    ...(settings ? [`client_id = ${o.clientId}`, `client_secret = ${o.clientSecret}`] : []),
    ...(local ? [] : ['tokeninfo_url =', 'force_introspection = yes']),
    `username_attribute = ${o.usernameAttribute ?? 'username'}`,
    'active_attribute = active',
    'active_value = true',
    ...(o.scope !== undefined ? [`scope = ${o.scope}`] : []),
    ...(debug ? ['debug = yes'] : []),
    '',
  ].join('\n');
}

/** A private Dovecot on a free port (on another one if that port was taken before Dovecot bound it). */
export function startDovecotImap(o: DovecotOAuthOptions | null, x: DovecotImapExtra = {}): Promise<DovecotImap> {
  return onFreePort((port) => startDovecotImapOn(port, o, x));
}

async function startDovecotImapOn(port: number, o: DovecotOAuthOptions | null, x: DovecotImapExtra): Promise<DovecotImap> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-dovecot-'));
  chmodSync(dir, 0o755);
  const nobody = 65534;
  for (const sub of ['run', 'state', 'home']) mkdirSync(join(dir, sub), { mode: 0o755 });
  chownSync(join(dir, 'home'), nobody, nobody);
  const log = join(dir, 'dovecot.log');
  const oauth2Conf = join(dir, 'dovecot-oauth2.conf.ext');
  const keysDir = join(dir, 'keys');
  for (const key of o?.localValidation?.keys ?? []) {
    mkdirSync(join(keysDir, 'default', 'ES256'), { recursive: true, mode: 0o755 });
    const pem = createPublicKey({ key, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
    writeFileSync(join(keysDir, 'default', 'ES256', key.kid), pem, { mode: 0o644 });
  }
  if (o !== null) writeFileSync(oauth2Conf, oauth2ConfText(o, keysDir, x.quiet !== true), { mode: 0o600 });
  x.prepare?.(dir);
  const passdbs =
    x.passdbs?.(dir) ??
    `passdb {
  driver = oauth2
  mechanisms = oauthbearer xoauth2
  args = ${oauth2Conf}
}`;
  const verbose = x.quiet === true ? 'no' : 'yes';
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(
    conf,
    `# Private test instance: loopback only, no TLS.
protocols = imap
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${log}
info_log_path = ${log}
debug_log_path = ${log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = ${x.authMechanisms ?? 'oauthbearer xoauth2'}
auth_verbose = ${verbose}
auth_debug = ${verbose}
auth_failure_delay = 0
auth_cache_size = 0
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
last_valid_uid = 0
mail_location = maildir:~/Maildir
${passdbs}
userdb {
  driver = static
  args = uid=${nobody} gid=${nobody} home=${dir}/home/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
${x.imapLoginSettings ?? ''}
}
service anvil {
  chroot =
}
${x.extraConf ?? ''}
`,
  );
  let child: ChildProcess | null = spawn(DOVECOT_BIN, ['-F', '-c', conf], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid!;
  const killGroup = () => killQuiet(-pid, 'SIGKILL');
  killOnTestExit(killGroup);
  let exited = false;
  child.once('exit', () => (exited = true));
  const logTail = (lines = 40) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-lines).join('\n') : '(no log)') + (stderr ? `\nstderr: ${stderr}` : '');
  const stop = async () => {
    if (child === null) return;
    killQuiet(pid, 'SIGTERM');
    for (let i = 0; i < 100 && !exited; i++) await sleep(50);
    killGroup();
    child = null;
    if (process.env.GATEHOUSE_KEEP_DOVECOT !== '1') rmQuiet(dir);
  };
  // Ready when imap-login answers with its greeting.
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) {
      const tail = logTail();
      await stop();
      throw new Error(`dovecot exited at start:\n${tail}`);
    }
    if (await greets(port)) break;
    if (Date.now() > deadline) {
      const tail = logTail();
      await stop();
      throw new Error(`dovecot did not greet on 127.0.0.1:${port}:\n${tail}`);
    }
    await sleep(100);
  }
  return { port, dir, oauth2Conf, logTail, stop };
}

function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(2000, () => done(false));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('* OK'));
    });
    s.on('error', () => done(false));
  });
}
