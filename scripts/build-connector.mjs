// Compiles the C parts of the extauth socket when a C compiler is present (`cc`, or $CC):
// - the connector (connector/gatehouse-extauth-connect.c) into dist/connector/;
// - the fdpass addon (native/fdpass.c, N-API) into dist/native/fdpass.node, with which serve
//   takes a connector's pipes and answers its ejabberd worker directly (src/bridge/handoff.ts).
// Without a compiler, the build goes on and says so: bin/gatehouse-extauth-connect (Perl) does
// the connector's job in a larger process, and serve relays instead of taking pipes.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cc = process.env.CC || 'cc';
const headers = createRequire(import.meta.url)('node-api-headers').include_dir;

function compile(source, out, flags, missing) {
  mkdirSync(dirname(out), { recursive: true });
  const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', ...flags, '-o', out, source], { stdio: 'inherit' });
  if (r.error?.code === 'ENOENT') {
    console.error(`build: no C compiler (${cc}); ${missing}`);
    return false;
  }
  if (r.status !== 0) {
    console.error(`build: ${cc} failed on ${source}`);
    process.exit(1);
  }
  return true;
}

if (
  compile(
    join(root, 'connector', 'gatehouse-extauth-connect.c'),
    join(root, 'dist', 'connector', 'gatehouse-extauth-connect'),
    [],
    'dist/connector/gatehouse-extauth-connect not built (bin/gatehouse-extauth-connect, in Perl, does the same job)',
  )
) {
  compile(
    join(root, 'native', 'fdpass.c'),
    join(root, 'dist', 'native', 'fdpass.node'),
    ['-shared', '-fPIC', '-fvisibility=hidden', '-I', headers],
    'dist/native/fdpass.node not built (serve relays for each connector)',
  );
}
