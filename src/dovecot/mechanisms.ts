/**
 * SASL mechanisms offered over the Dovecot protocol, as small state machines fed with the
 * client's decoded responses. Both are plaintext mechanisms: they yield a username and a
 * password, which the connection then checks with the accounts engine.
 */

export type Step =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'credentials'; username: string; password: string }
  | { kind: 'fail'; reason: string };

export interface Mechanism {
  /** The first step, with the initial response if the client sent one (`resp=`). */
  start(initial: Buffer | undefined): Step;
  /** A further step with the client's response to a challenge. */
  next(response: Buffer): Step;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(buf: Buffer): string | null {
  try {
    return utf8.decode(buf);
  } catch {
    return null;
  }
}

/** RFC 4616: `[authzid] NUL authcid NUL passwd`. Proxy authorization is not supported. */
export function plain(): Mechanism {
  const finish = (msg: Buffer): Step => {
    const first = msg.indexOf(0);
    const second = first === -1 ? -1 : msg.indexOf(0, first + 1);
    if (first === -1 || second === -1 || msg.indexOf(0, second + 1) !== -1) {
      return { kind: 'fail', reason: 'Invalid PLAIN message' };
    }
    const authzid = text(msg.subarray(0, first));
    const username = text(msg.subarray(first + 1, second));
    const password = text(msg.subarray(second + 1));
    if (authzid === null || username === null || password === null) {
      return { kind: 'fail', reason: 'Invalid UTF-8 in PLAIN message' };
    }
    if (authzid !== '' && authzid !== username) {
      return { kind: 'fail', reason: 'Authorization identity differs from the login' };
    }
    return { kind: 'credentials', username, password };
  };
  return {
    // No initial response: ask for it with an empty challenge (RFC 4422 §5).
    start: (initial) => (initial === undefined ? { kind: 'challenge', data: Buffer.alloc(0) } : finish(initial)),
    next: finish,
  };
}

/** The LOGIN mechanism (draft-murchison-sasl-login): "Username:", then "Password:". */
export function login(): Mechanism {
  let username: string | null = null;
  const USERNAME = Buffer.from('Username:');
  const PASSWORD = Buffer.from('Password:');
  const take = (buf: Buffer): Step => {
    if (username === null) {
      username = text(buf);
      if (username === null) return { kind: 'fail', reason: 'Invalid UTF-8 in username' };
      return { kind: 'challenge', data: PASSWORD };
    }
    const password = text(buf);
    if (password === null) return { kind: 'fail', reason: 'Invalid UTF-8 in password' };
    return { kind: 'credentials', username, password };
  };
  return {
    start: (initial) => (initial === undefined ? { kind: 'challenge', data: USERNAME } : take(initial)),
    next: take,
  };
}

export const MECHANISMS: Readonly<Record<string, () => Mechanism>> = Object.freeze({
  __proto__: null,
  PLAIN: plain,
  LOGIN: login,
} as unknown as Record<string, () => Mechanism>);
