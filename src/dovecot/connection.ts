/**
 * One client connection of the Dovecot authentication protocol, server side (protocol v1.x,
 * doc.dovecot.org "Dovecot Authentication Protocol"):
 *
 *   S: VERSION 1 2, MECH PLAIN plaintext, MECH LOGIN plaintext, SPID, CUID, COOKIE, DONE
 *   C: VERSION 1 x, CPID pid
 *   C: AUTH id mech service=.. [resp=base64] ...   S: CONT id base64 | OK id user=.. | FAIL id ..
 *   C: CONT id base64
 *
 * Requests are independent: several may be in progress at once and their replies may come
 * in any order (each carries its id). Malformed input gets a FAIL, or closes the connection
 * when it cannot be tied to a request; it never throws.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { LineDecoder } from '../extauth/wire/line.js';
import type { Logger } from '../log/logger.js';
import { tabEscape, tabUnescape } from './escape.js';
import { MECHANISMS, type Mechanism, type Step } from './mechanisms.js';

/** The line length Dovecot's own auth clients use (AUTH_CLIENT_MAX_LINE_LENGTH). */
export const MAX_LINE_BYTES = 16384;

export type Verdict = { ok: true; user: string } | { ok: false; temporary: boolean; reason: string };

/** Checks credentials; must not reject (errors are a temporary Verdict). */
export type Authenticate = (username: string, password: string, ctx: { address?: string | undefined; service?: string | undefined }) => Promise<Verdict>;

export interface ConnectionOptions {
  readonly authenticate: Authenticate;
  readonly logger: Logger;
  /** Requests in progress at once on one connection. */
  readonly maxRequests?: number;
  /** Connection-unique id sent as CUID. */
  readonly cuid: number;
}

interface Request {
  mech: Mechanism;
  service: string | undefined;
  address: string | undefined;
  /** Waiting for the accounts engine: a CONT now is a protocol error. */
  checking: boolean;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export class DovecotConnection {
  readonly #socket: Socket;
  readonly #o: ConnectionOptions;
  readonly #lines = new LineDecoder(MAX_LINE_BYTES);
  readonly #requests = new Map<string, Request>();
  #handshaken = false;
  #closed = false;

  constructor(socket: Socket, options: ConnectionOptions) {
    this.#socket = socket;
    this.#o = options;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => this.#close());
    socket.on('close', () => this.#close());
    // Our half of the handshake goes out at once; the client may pipeline its own.
    this.#send(
      'VERSION\t1\t2\n' +
        'MECH\tPLAIN\tplaintext\n' +
        'MECH\tLOGIN\tplaintext\n' +
        `SPID\t${process.pid}\n` +
        `CUID\t${options.cuid}\n` +
        `COOKIE\t${randomBytes(16).toString('hex')}\n` +
        'DONE\n',
    );
  }

  #onData(chunk: Buffer): void {
    try {
      this.#lines.push(chunk, (line) => this.#onLine(line.toString('utf8')));
    } catch {
      this.#o.logger.warn({ cuid: this.#o.cuid }, 'dovecot client sent an overlong line; closing');
      this.#end();
    }
  }

  #onLine(line: string): void {
    if (this.#closed) return;
    const args = line.split('\t');
    const cmd = args[0];
    if (!this.#handshaken) {
      if (cmd === 'VERSION') {
        if (args[1] !== '1') {
          this.#o.logger.warn({ version: args[1] }, 'dovecot client speaks another major version; closing');
          this.#end();
        }
        return;
      }
      if (cmd === 'CPID') {
        this.#handshaken = true;
        return;
      }
      // Some clients send AUTH right after VERSION; accept it rather than be strict.
      this.#handshaken = cmd === 'AUTH';
      if (!this.#handshaken) {
        this.#o.logger.warn({ cmd: cmd?.slice(0, 20) }, 'dovecot client sent an unexpected handshake line; closing');
        this.#end();
        return;
      }
    }
    switch (cmd) {
      case 'AUTH':
        this.#auth(args);
        return;
      case 'CONT':
        this.#cont(args);
        return;
      case 'CANCEL':
        if (args[1] !== undefined) this.#requests.delete(args[1]);
        return;
      default:
        // Unknown commands from a newer client are ignored, as the protocol asks of options.
        this.#o.logger.debug({ cmd: cmd?.slice(0, 20) }, 'dovecot client sent an unknown command');
    }
  }

  #auth(args: string[]): void {
    const id = args[1];
    const mechName = args[2];
    if (id === undefined || !/^\d{1,10}$/.test(id) || mechName === undefined) {
      this.#o.logger.warn({}, 'malformed AUTH; closing');
      this.#end();
      return;
    }
    if (this.#requests.has(id)) {
      this.#fail(id, 'Request id already in use');
      return;
    }
    if (this.#requests.size >= (this.#o.maxRequests ?? 100)) {
      this.#fail(id, 'Too many requests in progress', true);
      return;
    }
    const factory = MECHANISMS[mechName.toUpperCase()];
    if (factory === undefined) {
      this.#fail(id, 'Unsupported authentication mechanism');
      return;
    }
    let initial: Buffer | undefined;
    let service: string | undefined;
    let address: string | undefined;
    for (const param of args.slice(3)) {
      const eq = param.indexOf('=');
      const name = eq === -1 ? param : param.slice(0, eq);
      const value = eq === -1 ? '' : tabUnescape(param.slice(eq + 1));
      if (name === 'resp') {
        if (!BASE64.test(value)) {
          this.#fail(id, 'Invalid base64 data in initial response');
          return;
        }
        initial = Buffer.from(value, 'base64');
      } else if (name === 'service') service = value;
      else if (name === 'rip') address = value;
    }
    const req: Request = { mech: factory(), service, address, checking: false };
    this.#requests.set(id, req);
    this.#step(id, req, req.mech.start(initial));
  }

  #cont(args: string[]): void {
    const id = args[1];
    const req = id === undefined ? undefined : this.#requests.get(id);
    if (id === undefined || req === undefined || req.checking) {
      // A CONT for no request (or one being checked) cannot be answered in step.
      this.#o.logger.warn({ id }, 'CONT for no waiting request; closing');
      this.#end();
      return;
    }
    const data = args[2] ?? '';
    if (!BASE64.test(data)) {
      this.#requests.delete(id);
      this.#fail(id, 'Invalid base64 data in continued response');
      return;
    }
    this.#step(id, req, req.mech.next(Buffer.from(data, 'base64')));
  }

  #step(id: string, req: Request, step: Step): void {
    switch (step.kind) {
      case 'challenge':
        this.#send(`CONT\t${id}\t${step.data.toString('base64')}\n`);
        return;
      case 'fail':
        this.#requests.delete(id);
        this.#fail(id, step.reason);
        return;
      case 'credentials': {
        req.checking = true;
        const { username, password } = step;
        void this.#o.authenticate(username, password, { address: req.address, service: req.service }).then((v) => {
          if (this.#requests.get(id) !== req) return; // cancelled or connection closed
          this.#requests.delete(id);
          if (v.ok) this.#send(`OK\t${id}\tuser=${tabEscape(v.user)}\n`);
          else this.#fail(id, v.reason, v.temporary, username);
        });
      }
    }
  }

  /**
   * `temp` (and `code=temp_fail`, the newer spelling) marks a temporary failure, so a client
   * such as Postfix answers 454 "try again" rather than 535 "wrong password".
   */
  #fail(id: string, reason: string, temporary = false, user?: string): void {
    const parts = ['FAIL', id];
    if (user !== undefined) parts.push(`user=${tabEscape(user)}`);
    if (temporary) parts.push('code=temp_fail', 'temp');
    parts.push(`reason=${tabEscape(reason)}`);
    this.#send(`${parts.join('\t')}\n`);
  }

  #send(text: string): void {
    if (!this.#closed && this.#socket.writable) this.#socket.write(text);
  }

  /**
   * Close on a protocol error. Lines that came in the same read as the one that closed are
   * still in the decoder's loop: they are ignored from here on (`#onLine`), so a request a
   * client pipelined after a refused handshake or a malformed command is never checked.
   */
  #end(): void {
    this.#close();
    this.#socket.destroy();
  }

  #close(): void {
    this.#closed = true;
    this.#requests.clear();
  }
}
