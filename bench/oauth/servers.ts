/**
 * The two servers of the OAuth benchmark, each in its own child process (entry files
 * gatehouse-server.mjs and oidc-provider-server.mjs beside this file), on 127.0.0.1.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { gatehouseNodeFlags } from '../lib/node-flags.js';

export interface Endpoints {
  register: string;
  token: string;
  introspect: string;
  /** Gatehouse only: the browser flow mints its codes. */
  authorize?: string;
}

export interface ServerProcess {
  readonly name: string;
  readonly issuer: string;
  readonly endpoints: Endpoints;
  /** Reference server only: codes minted inside its process. */
  mint(clientId: string, count: number, redirectUri: string): Promise<string[][]>;
  stop(): Promise<void>;
}

interface Ready {
  type: 'ready';
  issuer: string;
  endpoints: Endpoints;
}

interface Minted {
  type: 'minted';
  id: number;
  codes?: { code: string; verifier: string }[];
  error?: string;
}

/** `env`: added to the child's environment (gatehouse-server.mjs reads GH_BENCH_DATABASE_URL). */
export async function startServer(root: string, name: string, entry: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child: ChildProcess = fork(join(root, 'bench/oauth', entry), [], {
    cwd: root,
    // Gatehouse runs with its bin's Node options; the other servers with Node's defaults.
    execArgv: entry.startsWith('gatehouse') ? gatehouseNodeFlags() : [],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', ...env },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000);
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: not ready after 30 s: ${stderr}`)), 30_000);
    child.on('message', (m: Ready) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name}: exited with ${code} before it was ready: ${stderr}`));
    });
  });
  let nextId = 0;
  const pending = new Map<number, { resolve: (c: string[][]) => void; reject: (e: Error) => void }>();
  child.on('message', (m: Minted) => {
    if (m.type !== 'minted') return;
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error !== undefined || m.codes === undefined) p?.reject(new Error(`${name}: minting failed: ${m.error}`));
    else p?.resolve(m.codes.map((c) => [c.code, c.verifier]));
  });
  return {
    name,
    issuer: ready.issuer,
    endpoints: ready.endpoints,
    mint(clientId, count, redirectUri) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ type: 'mint', id, clientId, count, redirectUri });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
