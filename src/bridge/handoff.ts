/**
 * The connector's handoff: gatehouse-extauth-connect (C) gives `gatehouse serve` the two pipes
 * its ejabberd worker talks to (its stdin and stdout, as SCM_RIGHTS over the extauth socket),
 * and serve answers the worker on them directly. The connector then only waits: it is off the
 * path of every query, which otherwise crosses one more process each way (two wake-ups of it
 * per login). The connection stays open as the worker's lifeline: when it closes (the connector
 * was killed), serve closes the pipes, so that ejabberd sees its program end and starts another.
 *
 * On the extauth socket, in order:
 *   connector -> serve  HANDOFF_HELLO (an ejabberd frame), with the descriptors [stdin, stdout]
 *   serve -> connector  HANDOFF_ACK: the pipes are taken; nothing else is ever sent either way
 * A serve that cannot take them reads the hello as a query it does not know and answers "no";
 * the connector then relays over the same connection. A connection whose first bytes are not
 * the hello (socat, the Perl connector) is served as a byte stream, the hello never being a
 * valid query in either protocol.
 *
 * Node has no API for recvmsg(2), so the descriptors are read by a small N-API addon
 * (native/fdpass.c), built with the connector; without it, serve relays as before.
 */
import { closeSync, fstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeFrame16 } from '../extauth/wire/frame16.js';

/** The hello: a whole ejabberd frame (2-byte length, then `gatehouse-handoff:1`). */
export const HANDOFF_HELLO: Buffer = encodeFrame16(Buffer.from('gatehouse-handoff:1'));

/** serve's answer to a hello whose pipes it took: 4 bytes, neither "yes" (00 02 00 01) nor "no". */
export const HANDOFF_ACK = Buffer.from([0, 2, 0x46, 0x44]);

interface FdPass {
  recv(fd: number, maxBytes: number, peek: boolean): { bytes: Buffer; fds: number[]; truncated: boolean } | null;
}

let loaded: FdPass | null | undefined;

/** The addon (dist/native/fdpass.node), or null where it was not built. */
export function fdPass(): FdPass | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('../../native/fdpass.node') as FdPass;
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

export type Handoff =
  /** The worker's pipes: queries are read from `input`, answers written to `output`. */
  | { readonly kind: 'pipes'; readonly input: Socket; readonly output: Socket }
  /** Not a handoff: serve the connection itself as a byte stream (nothing of it was read). */
  | { readonly kind: 'stream' }
  /**
   * A hello that broke the rules. `consumed`: it was read (its descriptors closed), and the
   * connection can go on as a byte stream after a "no", which tells a connector to relay;
   * otherwise (a hello left incomplete) the connection is closed.
   */
  | { readonly kind: 'refused'; readonly why: string; readonly consumed: boolean }
  /** The connection ended (or was closed by serve) before its first byte. */
  | { readonly kind: 'closed' };

/** Longest wait between two looks at a connection that has sent nothing yet, ms. */
const MAX_POLL_MS = 200;
/** How long the rest of a hello may take once its first bytes are in, ms: it is one write. */
const HELLO_REST_MS = 5000;

/**
 * Waits for the first bytes of a connection accepted paused (`pauseOnConnect`, so that Node has
 * read nothing of it), and takes the pipes if they are a handoff. Node cannot say when a paused
 * socket becomes readable without reading it, so this looks (MSG_PEEK, never blocking) at once,
 * then after 1, 2, 4... ms, at most every 200 ms: a connector sends its hello right after it
 * connects; socat's first bytes wait for ejabberd's first query, which they then reach at most
 * 200 ms later, once per connection.
 */
export async function awaitHandoff(socket: Socket, pass: FdPass): Promise<Handoff> {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return { kind: 'stream' };
  let delay = 0;
  let begun: number | null = null;
  for (;;) {
    // Checked before every look: the descriptor of a destroyed socket may already be another's.
    if (socket.destroyed) return { kind: 'closed' };
    let peeked: ReturnType<FdPass['recv']>;
    try {
      peeked = pass.recv(fd, HANDOFF_HELLO.length, true);
    } catch {
      return { kind: 'closed' }; // reset by the peer
    }
    if (peeked !== null) {
      const seen = peeked.bytes;
      if (seen.length === 0) return { kind: 'closed' };
      if (!HANDOFF_HELLO.subarray(0, seen.length).equals(seen)) return { kind: 'stream' };
      if (seen.length === HANDOFF_HELLO.length) return take(fd, pass);
      // Part of the hello: the rest is on its way, or never comes (the descriptors, if any, are
      // never received, and go with the connection).
      begun ??= performance.now();
      if (performance.now() - begun > HELLO_REST_MS) return { kind: 'refused', why: 'an incomplete hello', consumed: false };
    }
    await sleep(delay);
    delay = Math.min(MAX_POLL_MS, Math.max(1, delay * 2));
  }
}

/** Reads the hello with its descriptors and checks them: two, each a pipe or a socket. */
function take(fd: number, pass: FdPass): Handoff {
  let got: ReturnType<FdPass['recv']>;
  try {
    got = pass.recv(fd, HANDOFF_HELLO.length, false);
  } catch {
    return { kind: 'closed' };
  }
  if (got === null) return { kind: 'closed' };
  const refuse = (why: string): Handoff => {
    for (const f of got.fds) closeQuietly(f);
    return { kind: 'refused', why, consumed: true };
  };
  // The peek saw the whole hello; a sender could still have split it over two messages, the
  // descriptors riding on the second.
  if (!got.bytes.equals(HANDOFF_HELLO)) return refuse('the hello came in pieces');
  if (got.truncated || got.fds.length !== 2) return refuse(`a hello with ${got.fds.length}${got.truncated ? ' or more' : ''} descriptors, not 2`);
  const [input, output] = got.fds as [number, number];
  for (const f of got.fds) {
    let kind: string;
    try {
      const st = fstatSync(f);
      kind = st.isFIFO() ? 'pipe' : st.isSocket() ? 'socket' : 'other';
    } catch {
      kind = 'unreadable';
    }
    if (kind !== 'pipe' && kind !== 'socket') return refuse(`a handed-off descriptor that is not a pipe or a socket (${kind})`);
  }
  let reader: Socket | null = null;
  try {
    reader = new Socket({ fd: input, readable: true, writable: false });
    return { kind: 'pipes', input: reader, output: new Socket({ fd: output, readable: false, writable: true }) };
  } catch (err) {
    // A socket made of a descriptor owns it (destroy closes it); the other is closed here.
    if (reader === null) closeQuietly(input);
    else reader.destroy();
    closeQuietly(output);
    return { kind: 'refused', why: `the handed-off descriptors cannot be used: ${(err as Error).message}`, consumed: true };
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}
