/** A minimal Dovecot auth protocol client, as Postfix's smtpd talks to the auth service. */
import { connect, type Socket } from 'node:net';

export class DovecotClient {
  readonly socket: Socket;
  readonly handshake: string[] = [];
  #buf = '';
  #lines: string[] = [];
  #waiters: (() => void)[] = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.#buf += d;
      let nl;
      while ((nl = this.#buf.indexOf('\n')) !== -1) {
        this.#lines.push(this.#buf.slice(0, nl));
        this.#buf = this.#buf.slice(nl + 1);
      }
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on('error', () => {});
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

  get closed(): boolean {
    return this.#closed;
  }

  send(line: string): void {
    this.socket.write(`${line}\n`);
  }

  /** The next line, or null when the connection closed (waits at most `ms`). */
  async line(ms = 30_000): Promise<string | null> {
    const end = Date.now() + ms;
    while (this.#lines.length === 0) {
      if (this.#closed) return null;
      if (Date.now() > end) throw new Error('no line from the server');
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.#lines.shift()!;
  }

  /** AUTH PLAIN with an initial response; returns the reply line. */
  async plain(id: number, user: string, password: string, extra = ''): Promise<string | null> {
    const resp = Buffer.from(`\0${user}\0${password}`).toString('base64');
    this.send(`AUTH\t${id}\tPLAIN\tservice=smtp\tnologin${extra}\tresp=${resp}`);
    return this.line();
  }

  close(): void {
    this.socket.destroy();
  }
}

export const b64 = (s: string): string => Buffer.from(s).toString('base64');
