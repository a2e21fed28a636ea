#!/usr/bin/env python3
"""Example auth script, generic protocol (Prosody mod_auth_external, `gatehouse extauth`).

Accounts live in a users file, one `user@host:pbkdf2_sha256$iterations$salt$hash` per line
(salt and hash in base64). Reads `command:user:host[:password]` lines on stdin and answers
`1` or `0` on stdout, one line per query, flushed at once. Exits on EOF.

Usage: auth_users.py [USERS_FILE]   (default: users.txt beside this script)
Create a hash: auth_users.py --hash PASSWORD
"""
import base64
import hashlib
import hmac
import os
import sys
import tempfile

ITERATIONS = 20000


def make_hash(password, salt=None, iterations=ITERATIONS):
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return "pbkdf2_sha256$%d$%s$%s" % (
        iterations,
        base64.b64encode(salt).decode(),
        base64.b64encode(digest).decode(),
    )


def check_hash(password, stored):
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        want = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), base64.b64decode(salt), int(iterations))
        return hmac.compare_digest(want, got)
    except ValueError:
        return False


def load(path):
    users = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                jid, _, stored = line.rpartition(":")
                users[jid] = stored
    except FileNotFoundError:
        pass
    return users


def save(path, users):
    # Write a new file and rename it over the old one: a crash never leaves half a file.
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".users.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for jid, stored in sorted(users.items()):
            f.write("%s:%s\n" % (jid, stored))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def answer(path, line):
    parts = line.split(":", 3)
    if len(parts) < 3:
        return False
    command, user, host = parts[0], parts[1], parts[2]
    password = parts[3] if len(parts) == 4 else None
    jid = "%s@%s" % (user, host)
    users = load(path)
    if command == "auth" and password is not None:
        return jid in users and check_hash(password, users[jid])
    if command == "isuser":
        return jid in users
    if command == "setpass" and password:
        if jid not in users:
            return False
        users[jid] = make_hash(password)
        save(path, users)
        return True
    if command == "tryregister" and password:
        if jid in users:
            return False
        users[jid] = make_hash(password)
        save(path, users)
        return True
    if command == "removeuser" and password is None:
        if users.pop(jid, None) is None:
            return False
        save(path, users)
        return True
    if command == "removeuser3" and password is not None:
        if jid not in users or not check_hash(password, users[jid]):
            return False
        del users[jid]
        save(path, users)
        return True
    return False


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--hash":
        print(make_hash(sys.argv[2]))
        return
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "users.txt")
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    while True:
        raw = stdin.readline()
        if not raw:
            return  # EOF: the server closed our stdin
        try:
            ok = answer(path, raw.rstrip(b"\n").decode("utf-8"))
        except Exception as e:  # never die on one bad query; say why on stderr
            print("error: %s" % type(e).__name__, file=sys.stderr, flush=True)
            ok = False
        stdout.write(b"1\n" if ok else b"0\n")
        stdout.flush()


if __name__ == "__main__":
    main()
