// Private, loopback-only Apache 2.4 (Debian `apache2`) with mod_auth_openidc 2.4.12 (Debian
// `libapache2-mod-auth-openidc`) as an OpenID Connect relying party, for interop tests.
//
// Each instance gets a temp dir with its own httpd.conf (ServerRoot, PidFile, ErrorLog, Mutex,
// DefaultRuntimeDir all inside it), a document root with /loggedout.html, and /protected/
// guarded by `AuthType openid-connect` + `Require valid-user`, whose index is a CGI script
// printing what Apache passes it (REMOTE_USER and the OIDC_CLAIM_* variables). It listens on a
// free port of 127.0.0.1 only, runs `apache2 -DFOREGROUND` with prefork in a process group of
// its own, and is stopped by SIGTERM to that group (SIGKILL after a grace period; also when the
// test process exits). As root, the children run as www-data: the dir is world-readable and
// the OIDCMetadataDir, where mod_auth_openidc writes the client it registered, is theirs.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onFreePort } from '../helpers/net.js';
import { forgetOnTestExit, groupMembers, killOnTestExit, killQuiet, rmQuiet, sleep } from '../helpers/cleanup.js';

const APACHE_BIN = process.env.GATEHOUSE_APACHE_BIN ?? '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

export interface ApacheOptions {
  /** mod_auth_openidc directives (OIDCRedirectURI, OIDCCryptoPassphrase, OIDCCacheDir are added); `{metadataDir}` is replaced by the OIDCMetadataDir. */
  oidc: string;
  /** Files to create in the OIDCMetadataDir ({dir}/metadata), by name. */
  metadata?: Record<string, string>;
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Bound on the start (default 30000 ms). */
  startTimeoutMs?: number;
}

export interface Apache {
  port: number;
  origin: string;
  /** OIDCRedirectURI: {origin}/protected/redirect_uri. */
  redirectUri: string;
  dir: string;
  metadataDir: string;
  errorLog(): string;
  /** Files mod_auth_openidc wrote to the metadata dir, e.g. the `.client` of its registration. */
  metadataFile(name: string): string | null;
  stop(): Promise<void>;
}

/** `apache2 -DFOREGROUND -f conf` for one private instance; see the header. */
export async function startApache(options: ApacheOptions): Promise<Apache> {
  if (!existsSync(APACHE_BIN) || !existsSync(join(MODULES, 'mod_auth_openidc.so'))) {
    throw new Error(`${APACHE_BIN} or mod_auth_openidc is missing: apt-get install apache2 libapache2-mod-auth-openidc (scripts/peers.sh)`);
  }
  // Without a port: a free one, and another if that one is taken before Apache binds it.
  if (options.port === undefined) return onFreePort((port) => startApache({ ...options, port }));
  const port = options.port;
  const origin = `http://127.0.0.1:${port}`;
  const redirectUri = `${origin}/protected/redirect_uri`;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-apache-'));
  chmodSync(dir, 0o755);
  const asRoot = process.getuid?.() === 0;
  const docroot = join(dir, 'htdocs');
  const metadataDir = join(dir, 'metadata');
  const cacheDir = join(dir, 'cache');
  mkdirSync(join(docroot, 'protected'), { recursive: true });
  for (const d of [metadataDir, cacheDir]) {
    mkdirSync(d);
    if (asRoot) chownSync(d, 33, 33); // www-data on Debian
  }
  mkdirSync(join(dir, 'run'));
  for (const [name, text] of Object.entries(options.metadata ?? {})) {
    const file = join(metadataDir, name);
    writeFileSync(file, text);
    if (asRoot) chownSync(file, 33, 33);
  }
  writeFileSync(join(docroot, 'loggedout.html'), '<!DOCTYPE html><title>Signed out</title><h1>You are signed out of the app</h1>\n');
  // The app: what Apache tells it about the user, as text.
  const cgi = join(docroot, 'protected', 'index.cgi');
  writeFileSync(
    cgi,
    `#!/bin/sh
printf 'Content-Type: text/plain; charset=utf-8\\r\\n\\r\\n'
printf 'Hello %s\\n' "$OIDC_CLAIM_preferred_username"
printf 'REMOTE_USER=%s\\n' "$REMOTE_USER"
env | grep '^OIDC_CLAIM_' | sort
`,
  );
  chmodSync(cgi, 0o755);
  const passphrase = randomBytes(24).toString('base64url');
  const conf = join(dir, 'httpd.conf');
  writeFileSync(
    conf,
    `ServerRoot ${dir}
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile ${dir}/run/httpd.pid
DefaultRuntimeDir ${dir}/run
Mutex file:${dir}/run default
ErrorLog ${dir}/error.log
LogLevel warn auth_openidc:debug
${asRoot ? 'User www-data\nGroup www-data' : ''}
LoadModule mpm_prefork_module ${MODULES}/mod_mpm_prefork.so
LoadModule authn_core_module ${MODULES}/mod_authn_core.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule authz_user_module ${MODULES}/mod_authz_user.so
LoadModule mime_module ${MODULES}/mod_mime.so
LoadModule dir_module ${MODULES}/mod_dir.so
LoadModule cgi_module ${MODULES}/mod_cgi.so
LoadModule auth_openidc_module ${MODULES}/mod_auth_openidc.so
StartServers 1
MinSpareServers 1
MaxSpareServers 2
MaxRequestWorkers 8
TypesConfig /etc/mime.types
DocumentRoot ${docroot}
<Directory />
  Require all denied
  AllowOverride None
</Directory>
<Directory ${docroot}>
  Require all granted
</Directory>
<Directory ${docroot}/protected>
  Options +ExecCGI
  AddHandler cgi-script .cgi
  DirectoryIndex index.cgi
</Directory>

OIDCRedirectURI ${redirectUri}
OIDCCryptoPassphrase ${passphrase}
OIDCCacheDir ${cacheDir}
${options.oidc.replaceAll('{metadataDir}', metadataDir)}

<Location /protected/>
  AuthType openid-connect
  Require valid-user
</Location>
`,
  );
  const errorLogFile = join(dir, 'error.log');
  const errorLog = (): string => (existsSync(errorLogFile) ? readFileSync(errorLogFile, 'utf8') : '');

  const child: ChildProcess = spawn(APACHE_BIN, ['-DFOREGROUND', '-f', conf], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const pgid = child.pid!;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // While the parent lives, its group is Apache's; after it exited, only members still seen in /proc.
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) killQuiet(-pgid, 'SIGKILL');
    else for (const pid of groupMembers(pgid)) killQuiet(pid, 'SIGKILL');
  };
  killOnTestExit(kill);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      killQuiet(-pgid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
    }
    kill(); // a parent that did not stop in time, or children it left
    forgetOnTestExit(kill);
    if (process.env.GATEHOUSE_KEEP_APACHE !== '1') rmQuiet(dir);
  };

  // Ready when it answers HTTP on its port.
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = errorLog();
      await stop();
      throw new Error(`apache2 exited at start (${child.exitCode ?? child.signalCode}): ${output}\n${log}`);
    }
    try {
      const res = await fetch(`${origin}/loggedout.html`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      const log = errorLog();
      await stop();
      throw new Error(`apache2 did not answer on ${origin} in time: ${output}\n${log}`);
    }
    await sleep(100);
  }
  return {
    port,
    origin,
    redirectUri,
    dir,
    metadataDir,
    errorLog,
    metadataFile: (name) => {
      const f = join(metadataDir, name);
      return existsSync(f) ? readFileSync(f, 'utf8') : null;
    },
    stop,
  };
}


/** The name mod_auth_openidc 2.4 gives an issuer's files in OIDCMetadataDir: URL-encoded, scheme stripped. */
export function metadataName(issuer: string): string {
  return encodeURIComponent(issuer.replace(/^https?:\/\//, '').replace(/\/$/, ''));
}
