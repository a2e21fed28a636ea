#!/usr/bin/env -S node --max-semi-space-size=4
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`gatehouse: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
