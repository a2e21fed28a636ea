/** Help texts of the command line. */
export const MAIN_USAGE = `Usage: gatehouse <command> [options]

Commands:
  extauth        Speak the extauth protocol on stdin/stdout (for ejabberd's extauth_program
                 or Prosody's external_auth_command), answering from the configured script
  check-script   Probe an auth script and report what it gets wrong:
                 gatehouse check-script [--protocol generic|ejabberd] -- CMD [ARGS...]
  help           Show this help

Options:
  --config FILE  Configuration file (default: $GATEHOUSE_CONFIG or ./gatehouse.toml)
  --verbose      Print stack traces on errors
  --version      Print the version
`;

export const EXTAUTH_USAGE = `Usage: gatehouse extauth [--config FILE] [--serve-protocol generic|ejabberd]

Reads queries (auth, isuser, setpass, tryregister, removeuser, removeuser3) on stdin in the
serve protocol and answers each on stdout, asking the auth script configured by
external_auth_command through a pool with timeouts, restarts and input validation.

  --serve-protocol P  Protocol spoken on stdin/stdout: "generic" (Prosody, default) or
                      "ejabberd" (2-byte length frames, for extauth_program)
  --config FILE       Configuration file (default: $GATEHOUSE_CONFIG or ./gatehouse.toml)

ejabberd:  extauth_program: "/path/to/gatehouse extauth --serve-protocol ejabberd --config /etc/gatehouse.toml"
Prosody:   external_auth_command = "/path/to/gatehouse extauth --config /etc/gatehouse.toml"
`;
