"""IMAP AUTHENTICATE with an OAuth bearer token, as a mail client does (Python's imaplib).

Usage: imap_oauth_login.py PORT MECHANISM USER TOKEN
MECHANISM is OAUTHBEARER (RFC 7628: GS2 header, host, port, auth=Bearer) or XOAUTH2.
Prints one JSON line: {"ok": bool, "detail": str, "select": str|null}.
"""
import imaplib
import json
import sys

port, mechanism, user, token = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def first(_challenge):
    if mechanism == 'OAUTHBEARER':
        return f'n,a={user},\x01host=127.0.0.1\x01port={port}\x01auth=Bearer {token}\x01\x01'.encode()
    return f'user={user}\x01auth=Bearer {token}\x01\x01'.encode()


calls = 0


def respond(challenge):
    # First: the client's message. After an error challenge (a JSON status), RFC 7628 §3.2.3
    # wants a dummy ^A for OAUTHBEARER; XOAUTH2 clients send an empty response.
    global calls
    calls += 1
    if calls == 1:
        return first(challenge)
    return b'\x01' if mechanism == 'OAUTHBEARER' else b''


result = {'ok': False, 'detail': '', 'select': None}
conn = imaplib.IMAP4('127.0.0.1', port, timeout=20)
try:
    typ, data = conn.authenticate(mechanism, respond)
    result['ok'] = typ == 'OK'
    result['detail'] = ' '.join(d.decode(errors='replace') for d in data if isinstance(d, bytes))
    typ, data = conn.select('INBOX')
    result['select'] = typ
    conn.logout()
except imaplib.IMAP4.error as e:
    result['detail'] = str(e)
    try:
        conn.logout()
    except Exception:
        pass
print(json.dumps(result))
