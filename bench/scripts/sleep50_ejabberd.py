#!/usr/bin/env python3
# The benchmark's slow auth script in the ejabberd protocol: every answer takes 50 ms, like a
# script that asks a remote database. The same logic as sleep50.py, so only the framing differs.
import struct
import sys
import time
inp, out = sys.stdin.buffer, sys.stdout.buffer
YES, NO = struct.pack(">HH", 2, 1), struct.pack(">HH", 2, 0)
while True:
    head = inp.read(2)  # a buffered read returns short only at EOF
    if len(head) < 2:
        break
    query = inp.read(struct.unpack(">H", head)[0])
    time.sleep(0.05)
    out.write(YES if query.endswith(b":secret") else NO)
    out.flush()
