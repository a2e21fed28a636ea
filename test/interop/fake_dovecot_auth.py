#!/usr/bin/env python3
"""TEST STAND-IN, NOT GATEHOUSE: a tiny server side of the Dovecot auth protocol v1.1.

It exists only to verify the Prosody / Postfix harnesses (test/interop/prosody.ts,
test/interop/postfix.ts) without Gatehouse's own server (src/dovecot/), and to record the
exact lines each real consumer sends. Never use it for anything but loopback tests.

    fake_dovecot_auth.py (--unix PATH | --tcp PORT) [--user NAME=PASSWORD ...]
                         [--transcript FILE] [--ok-user localpart|as-given|omit]
                         [--max-seconds N]

Prints exactly one line "LISTENING unix:PATH" or "LISTENING tcp:127.0.0.1:PORT" on stdout
once it accepts connections (--tcp 0 picks a free port), then serves until SIGTERM/SIGINT
or --max-seconds (default 600) elapse.

Handshake sent on every connection (what Dovecot 2.3 sends, minus extra MECHs):
    VERSION 1 2 / MECH PLAIN plaintext / MECH LOGIN plaintext / SPID <pid> / CUID <n> /
    COOKIE <32 hex> / DONE
Requests understood: VERSION, CPID, AUTH <id> <mech> [params...] [resp=<b64>],
CONT <id> <b64>. Mechanisms: PLAIN, LOGIN (challenges "Username:", "Password:").
Replies: OK <id> user=<name> | FAIL <id> user=<name> | FAIL <id> temp (user "tempfail")
| FAIL <id> reason=... (bad input).

Special authcids (localpart, with or without @domain): "tempfail" -> FAIL <id> temp
reason=... ; "tempcode" -> FAIL <id> code=temp_fail temp reason=... ; "slow" -> answers after 3 s (then as any unknown user: FAIL).

--ok-user: which user= to return on OK: "localpart" (the part before '@'), "as-given"
(default: exactly the authcid the client sent) or "omit" (no user= field at all).

The transcript (--transcript FILE, appended) has one line per protocol line:
    <conn#> C: <line>      (client to server)
    <conn#> S: <line>      (server to client)
with TABs shown as "\\t" and every resp= / CONT payload replaced by
    <b64:...> where the decoded bytes are shown with the password replaced by PASSWORD.
"""
import argparse
import asyncio
import base64
import os
import secrets
import signal
import sys

HARD_MAX_SECONDS = 3600.0
MAX_LINE = 65536


def parse_args():
    p = argparse.ArgumentParser(description="test stand-in Dovecot auth server (loopback only)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--unix", help="Unix socket path to listen on")
    g.add_argument("--tcp", type=int, help="TCP port on 127.0.0.1 (0 = pick a free one)")
    p.add_argument("--user", action="append", default=[], help="NAME=PASSWORD (repeatable)")
    p.add_argument("--transcript", help="append a redacted transcript of every line here")
    p.add_argument("--ok-user", choices=["localpart", "as-given", "omit"], default="as-given")
    p.add_argument("--max-seconds", type=float, default=600.0)
    return p.parse_args()


class State:
    def __init__(self, args):
        self.users = {}
        for spec in args.user:
            name, sep, pw = spec.partition("=")
            if not sep:
                raise SystemExit("--user needs NAME=PASSWORD")
            self.users[name] = pw.encode("utf-8")
        self.ok_user = args.ok_user
        self.transcript = open(args.transcript, "a", buffering=1) if args.transcript else None
        self.cuid = 0
        self.conn_no = 0


def shown(line):
    return line.replace("\t", "\\t")


def redact_plain(raw, users):
    # authzid \0 authcid \0 passwd
    parts = raw.split(b"\0")
    if len(parts) == 3:
        return "%r" % (parts[0] + b"\0" + parts[1] + b"\0PASSWORD")
    return "%r" % raw


def redact_line(line, state, conn):
    fields = line.split("\t")
    out = []
    for i, f in enumerate(fields):
        if f.startswith("resp="):
            v = f[5:]
            try:
                raw = base64.b64decode(v, validate=True) if v else b""
            except Exception:
                out.append(f)
                continue
            mech = fields[2] if len(fields) > 2 else ""
            if mech == "PLAIN":
                out.append("resp=<b64:%s>" % redact_plain(raw, state.users))
            else:
                out.append("resp=<b64:%r>" % raw)
        elif fields[0] == "CONT" and i == 2:
            try:
                raw = base64.b64decode(f, validate=True) if f else b""
            except Exception:
                out.append(f)
                continue
            pending = conn.get("pending", {}).get(fields[1])
            if pending is not None and pending.get("stage") == "password":
                out.append("<b64:b'PASSWORD'>")
            elif pending is not None and pending.get("mech") == "PLAIN":
                out.append("<b64:%s>" % redact_plain(raw, state.users))
            else:
                out.append("<b64:%r>" % raw)
        else:
            out.append(f)
    return "\\t".join(out)


def log(state, conn_no, direction, text):
    if state.transcript:
        state.transcript.write("%d %s: %s\n" % (conn_no, direction, text))


async def handle(reader, writer, state):
    state.conn_no += 1
    conn_no = state.conn_no
    state.cuid += 1
    conn = {"pending": {}}

    def send(line):
        writer.write((line + "\n").encode("utf-8"))
        log(state, conn_no, "S", shown(line) if not line.startswith("CONT") else
            "\\t".join(line.split("\t")[:2]) + "\\t<b64:%r>" % base64.b64decode(line.split("\t")[2] or ""))

    log(state, conn_no, "#", "connected")
    for line in ("VERSION\t1\t2", "MECH\tPLAIN\tplaintext", "MECH\tLOGIN\tplaintext",
                 "SPID\t%d" % os.getpid(), "CUID\t%d" % state.cuid,
                 "COOKIE\t%s" % secrets.token_hex(16), "DONE"):
        send(line)
    await writer.drain()

    async def finish(rid, authcid, password):
        local = authcid.split("@", 1)[0]
        if local == "slow":
            await asyncio.sleep(3)
        if local == "tempfail":
            send("FAIL\t%s\ttemp\treason=stand-in temporary failure" % rid)
            return
        if local == "tempcode":  # the newer Dovecot 2.3 form
            send("FAIL\t%s\tcode=temp_fail\ttemp\treason=stand-in temporary failure" % rid)
            return
        ok = authcid in state.users and state.users[authcid] == password
        if ok:
            if state.ok_user == "omit":
                send("OK\t%s" % rid)
            else:
                u = authcid.split("@", 1)[0] if state.ok_user == "localpart" else authcid
                send("OK\t%s\tuser=%s" % (rid, u))
        else:
            send("FAIL\t%s\tuser=%s" % (rid, authcid))

    try:
        while True:
            try:
                raw = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as e:
                if e.partial:
                    log(state, conn_no, "#", "EOF after partial line %r" % e.partial[:80])
                break
            except asyncio.LimitOverrunError:
                log(state, conn_no, "#", "line too long; closing")
                break
            line = raw[:-1].decode("utf-8", "replace")
            log(state, conn_no, "C", redact_line(line, state, conn))
            f = line.split("\t")
            cmd = f[0]
            if cmd in ("VERSION", "CPID"):
                continue
            if cmd == "AUTH" and len(f) >= 3:
                rid, mech = f[1], f[2]
                params = {}
                for p in f[3:]:
                    k, _, v = p.partition("=")
                    params[k] = v
                resp = params.get("resp")
                if mech == "PLAIN":
                    if resp is None or resp in ("", "="):
                        conn["pending"][rid] = {"mech": "PLAIN"}
                        send("CONT\t%s\t" % rid)
                    else:
                        await handle_plain(rid, resp, finish, send)
                elif mech == "LOGIN":
                    st = {"mech": "LOGIN", "stage": "user"}
                    conn["pending"][rid] = st
                    if resp and resp != "=":  # Prosody sends "resp==" for "no initial response"
                        st["user"] = b64d(resp)
                        st["stage"] = "password"
                        send("CONT\t%s\t%s" % (rid, b64e(b"Password:")))
                    else:
                        send("CONT\t%s\t%s" % (rid, b64e(b"Username:")))
                else:
                    send("FAIL\t%s\treason=unsupported mechanism" % rid)
            elif cmd == "CONT" and len(f) >= 2:
                rid = f[1]
                data = f[2] if len(f) > 2 else ""
                st = conn["pending"].get(rid)
                if st is None:
                    send("FAIL\t%s\treason=unknown request id" % rid)
                elif st["mech"] == "PLAIN":
                    del conn["pending"][rid]
                    await handle_plain(rid, data, finish, send)
                elif st["stage"] == "user":
                    st["user"] = b64d(data)
                    st["stage"] = "password"
                    send("CONT\t%s\t%s" % (rid, b64e(b"Password:")))
                else:
                    del conn["pending"][rid]
                    user = (st.get("user") or b"").decode("utf-8", "replace")
                    await finish(rid, user, b64d(data))
            else:
                log(state, conn_no, "#", "unknown command ignored")
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        log(state, conn_no, "#", "closed")
        try:
            writer.close()
        except Exception:
            pass


def b64d(s):
    try:
        return base64.b64decode(s, validate=True) if s and s != "=" else b""
    except Exception:
        return b""


def b64e(b):
    return base64.b64encode(b).decode("ascii")


async def handle_plain(rid, resp, finish, send):
    raw = b64d(resp)
    parts = raw.split(b"\0")
    if len(parts) != 3:
        send("FAIL\t%s\treason=invalid PLAIN message" % rid)
        return
    authcid = parts[1].decode("utf-8", "replace")
    await finish(rid, authcid, parts[2])


async def main():
    args = parse_args()
    state = State(args)
    limit = max(1.0, min(args.max_seconds, HARD_MAX_SECONDS))

    async def on_conn(r, w):
        await handle(r, w, state)

    if args.unix:
        try:
            os.unlink(args.unix)
        except FileNotFoundError:
            pass
        server = await asyncio.start_unix_server(on_conn, path=args.unix, limit=MAX_LINE)
        os.chmod(args.unix, 0o666)
        where = "unix:" + args.unix
    else:
        server = await asyncio.start_server(on_conn, host="127.0.0.1", port=args.tcp,
                                            limit=MAX_LINE)
        where = "tcp:127.0.0.1:%d" % server.sockets[0].getsockname()[1]
    sys.stdout.write("LISTENING %s\n" % where)
    sys.stdout.flush()

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(
            sig, lambda: stop.done() or stop.set_result(None))
    try:
        await asyncio.wait_for(stop, timeout=limit)
    except asyncio.TimeoutError:
        pass
    server.close()
    if args.unix:
        try:
            os.unlink(args.unix)
        except OSError:
            pass


if __name__ == "__main__":
    asyncio.run(main())
