// Compiles the C extauth connector (connector/gatehouse-extauth-connect.c) into
// dist/connector/gatehouse-extauth-connect when a C compiler is present (`cc`, or $CC).
// Without one, the build goes on and says so: bin/gatehouse-extauth-connect (Perl) does the
// same job in a larger process.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'connector', 'gatehouse-extauth-connect.c');
const out = join(root, 'dist', 'connector', 'gatehouse-extauth-connect');
const cc = process.env.CC || 'cc';
mkdirSync(dirname(out), { recursive: true });
const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-o', out, source], { stdio: 'inherit' });
if (r.error?.code === 'ENOENT') {
  console.error(`build: no C compiler (${cc}); dist/connector/gatehouse-extauth-connect not built (bin/gatehouse-extauth-connect, in Perl, does the same job)`);
} else if (r.status !== 0) {
  console.error(`build: ${cc} failed on ${source}`);
  process.exit(1);
}
