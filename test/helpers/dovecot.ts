/** A minimal Dovecot auth protocol client, as Postfix's smtpd talks to the auth service. */
import { connect, type Socket } from 'node:net';

/**
 * One end of a Dovecot auth-client connection, read as lines: the lines received, and a way to
 * be woken when another comes or the connection closes. Clients add how they wait.
 */
export abstract class LineSocket {
  readonly socket: Socket;
  readonly handshake: string[] = [];
  #buf = '';
  readonly #lines: string[] = [];
  readonly #waiters: (() => void)[] = [];
  #closed = false;

  protected constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.#buf += d;
      let nl;
      while ((nl = this.#buf.indexOf('\n')) !== -1) {
        this.#lines.push(this.#buf.slice(0, nl));
        this.#buf = this.#buf.slice(nl + 1);
      }
      this.#wakeAll();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wakeAll();
    });
    socket.on('error', () => {});
  }

  #wakeAll(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Calls `r` once, when the next line arrives or the connection closes. */
  wake(r: () => void): void {
    this.#waiters.push(r);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A whole line has arrived and is not taken yet. */
  protected get hasLine(): boolean {
    return this.#lines.length > 0;
  }

  /** The oldest line not taken yet, or null. */
  protected takeLine(): string | null {
    return this.#lines.shift() ?? null;
  }

  send(line: string): void {
    this.socket.write(`${line}\n`);
  }

  /** The next line, or null once the connection is closed. */
  abstract line(): Promise<string | null>;

  /** AUTH PLAIN with an initial response; returns the reply line. */
  async plain(id: number, user: string, password: string, extra = ''): Promise<string | null> {
    this.send(`AUTH\t${id}\tPLAIN\tservice=smtp\tnologin${extra}\tresp=${b64(`\0${user}\0${password}`)}`);
    return this.line();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A client of a Dovecot auth server, as Postfix's smtpd talks to it. */
export class DovecotClient extends LineSocket {
  private constructor(socket: Socket) {
    super(socket);
  }

  /** Connect, read the server handshake up to DONE, send ours. */
  static async open(target: { port: number } | { path: string }, handshake = 'VERSION\t1\t2\nCPID\t4242\n'): Promise<DovecotClient> {
    const socket = 'port' in target ? connect(target.port, '127.0.0.1') : connect(target.path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new DovecotClient(socket);
    for (;;) {
      const line = await c.line();
      if (line === null) throw new Error('closed during handshake');
      c.handshake.push(line);
      if (line === 'DONE') break;
    }
    if (handshake) socket.write(handshake);
    return c;
  }

  /** The next line, or null when the connection closed (waits at most `ms`). */
  override async line(ms = 30_000): Promise<string | null> {
    const end = Date.now() + ms;
    while (!this.hasLine) {
      if (this.closed) return null;
      if (Date.now() > end) throw new Error('no line from the server');
      await new Promise<void>((r) => {
        this.wake(r);
        setTimeout(r, 50);
      });
    }
    return this.takeLine();
  }
}

export const b64 = (s: string): string => Buffer.from(s).toString('base64');
