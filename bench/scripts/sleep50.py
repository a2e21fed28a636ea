#!/usr/bin/env python3
# The benchmark's slow auth script (generic protocol): every answer takes 50 ms, like a script
# that asks a remote database.
import sys
import time
inp, out = sys.stdin.buffer, sys.stdout.buffer
for line in iter(inp.readline, b""):
    time.sleep(0.05)
    out.write(b"1\n" if line.rstrip(b"\n").endswith(b":secret") else b"0\n")
    out.flush()
