#!/usr/bin/env -S node --max-semi-space-size=4
// `gatehouse extauth` for a server that runs its program without arguments: Prosody's
// mod_auth_external_insecure (lpty) executes external_auth_command as one path. The
// configuration is $GATEHOUSE_CONFIG, or /etc/gatehouse/gatehouse.toml; arguments, when
// given, are those of `gatehouse extauth`.
import { main } from '../dist/src/cli/main.js';

const args = process.argv.slice(2);
const hasConfig = args.some((a) => a === '--config' || a.startsWith('--config='));
const config = process.env.GATEHOUSE_CONFIG || '/etc/gatehouse/gatehouse.toml';

main(['extauth', ...(hasConfig ? [] : ['--config', config]), ...args]).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`gatehouse-extauth: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
