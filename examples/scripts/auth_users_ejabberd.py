#!/usr/bin/env python3
"""Example auth script, ejabberd protocol (extauth_program, `gatehouse extauth --serve-protocol ejabberd`).

The same accounts and the same answers as auth_users.py (whose functions it uses, so keep the
two files side by side); only the framing differs. Each query arrives as a 2-byte big-endian
length N followed by N bytes of `command:user:host[:password]` (UTF-8); each answer is exactly
the 4 bytes 00 02 00 01 (yes) or 00 02 00 00 (no). Exits on EOF.

Usage: auth_users_ejabberd.py [USERS_FILE]   (default: users.txt beside this script)
"""
import os
import struct
import sys

from auth_users import answer

YES = struct.pack(">HH", 2, 1)
NO = struct.pack(">HH", 2, 0)


def read_exact(stream, n):
    """Read exactly n bytes; None at EOF. A pipe may deliver a frame in several pieces."""
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "users.txt")
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    while True:
        header = read_exact(stdin, 2)
        if header is None:
            return  # EOF: the server closed our stdin
        (length,) = struct.unpack(">H", header)
        data = read_exact(stdin, length)
        if data is None:
            return  # EOF inside a frame: the server is gone, there is nobody to answer
        try:
            ok = answer(path, data.decode("utf-8"))
        except Exception as e:  # never die on one bad query; say why on stderr, never on stdout
            print("error: %s" % type(e).__name__, file=sys.stderr, flush=True)
            ok = False
        # One write per answer, flushed at once: the server waits for it.
        stdout.write(YES if ok else NO)
        stdout.flush()


if __name__ == "__main__":
    main()
