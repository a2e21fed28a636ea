#!/usr/bin/env python3
# The benchmark's fast auth script (generic protocol): yes for password "secret".
import sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
for line in iter(inp.readline, b""):
    out.write(b"1\n" if line.rstrip(b"\n").endswith(b":secret") else b"0\n")
    out.flush()
