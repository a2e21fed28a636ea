// Dies at start the first time (when the flag file named by argv[2] does not exist yet, it
// creates it), then answers like fast.mjs: a script that recovers after a failed start.
import { existsSync, writeFileSync } from 'node:fs';
import { decide, parse, reply, serve, write } from '../fixtures/lib/serve.mjs';
const flag = process.argv[2];
if (flag && !existsSync(flag)) {
  writeFileSync(flag, '');
  process.stderr.write('fatal: database not up yet\n');
  process.exit(3);
}
serve((q) => write(reply(decide(parse(q)))));
