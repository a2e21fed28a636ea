#!/usr/bin/env python3
# The benchmark's fast auth script in the ejabberd protocol (2-byte length frames, 4-byte
# answers): yes for password "secret". The same logic as fast.py, so only the framing differs.
import struct
import sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
YES, NO = struct.pack(">HH", 2, 1), struct.pack(">HH", 2, 0)
while True:
    head = inp.read(2)  # a buffered read returns short only at EOF
    if len(head) < 2:
        break
    query = inp.read(struct.unpack(">H", head)[0])
    out.write(YES if query.endswith(b":secret") else NO)
    out.flush()
