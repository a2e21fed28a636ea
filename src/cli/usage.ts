/** Help texts of the command line. */
export const MAIN_USAGE = `Usage: gatehouse <command> [options]

Commands:
  serve          Run the service: the auth HTTP API (Prosody mod_auth_http), /healthz, and the
                 Dovecot auth protocol (Postfix, Exim, Prosody mod_auth_dovecot)
  extauth        Speak the extauth protocol on stdin/stdout (for ejabberd's extauth_program
                 or Prosody's external_auth_command), answering from the configured script
  check-script   Probe an auth script and report what it gets wrong:
                 gatehouse check-script [--protocol generic|ejabberd] [--json] -- CMD [ARGS...]
  doctor         Check a configuration, its auth scripts, its database and its ports
  help           Show this help

Options:
  --config FILE  Configuration file (default: $GATEHOUSE_CONFIG or ./gatehouse.toml)
  --verbose      Print stack traces on errors
  --version      Print the version
`;

export const EXTAUTH_USAGE = `Usage: gatehouse extauth [--config FILE] [--serve-protocol generic|ejabberd]
                         [--lockstep] [--caller-timeout SECONDS]

Reads queries (auth, isuser, setpass, tryregister, removeuser, removeuser3) on stdin in the
serve protocol and answers each on stdout, asking the auth script configured by
external_auth_command through a pool with timeouts, restarts and input validation.

  --serve-protocol P  Protocol spoken on stdin/stdout: "generic" (Prosody, default) or
                      "ejabberd" (2-byte length frames, for extauth_program)
  --config FILE       Configuration file (default: $GATEHOUSE_CONFIG or ./gatehouse.toml)
  --lockstep          Answer in lockstep, for a caller that waits for each answer and reads
                      whatever comes next as the answer: one answer per write, none after
                      the caller's deadline, several queries in one write refused. On by
                      itself when stdin is a terminal (Prosody's pty module).
  --caller-timeout S  How long that caller waits for an answer (extauth_caller_timeout,
                      default 5: Prosody's external_auth_timeout)

ejabberd:  extauth_program: "/path/to/gatehouse extauth --serve-protocol ejabberd --config /etc/gatehouse.toml"
Prosody:   external_auth_command = "/usr/local/bin/gatehouse-extauth"
           (gatehouse-extauth takes no arguments: its configuration is $GATEHOUSE_CONFIG or
           /etc/gatehouse/gatehouse.toml)

SIGHUP renews the script processes with the file's auth script settings, without failing a
query (on a terminal, SIGHUP is a hang-up and stops the bridge). SIGTERM stops it.
`;

export const CHECK_SCRIPT_USAGE = `Usage: gatehouse check-script [options] -- CMD [ARGS...]

Runs the auth script CMD (without a shell, on pipes) and probes it the way Gatehouse, Prosody
and ejabberd will use it: reply format, one reply per query, passwords with colons, UTF-8 and
control characters, long input, unknown commands, unsolicited output, exit on EOF, many
queries at once, and reply times. Only auth, isuser and one unknown command are sent: the
script's accounts are never changed. Exit code 0 when nothing failed, 1 otherwise.

  --protocol P          "generic" (Prosody, default) or "ejabberd" (2-byte length frames)
  --timeout S           Seconds to wait for one reply (default 5)
  --user U --host H     An account that exists, to check that its password is accepted and
  --password P          wrong ones are not (optional; without it, only unknown users are used)
  --password-file F     Read that password from the first line of F (keeps it out of ps)
  --max-query-bytes N   The engine's query limit, external_auth_max_query_bytes (default 4096)
  --json                Print the report as JSON (finding ids are stable)

Example:
  gatehouse check-script --user alice --host localhost --password wonderland \\
    -- python3 examples/scripts/auth_users.py

Probes and finding ids: docs/check-script.md
`;
