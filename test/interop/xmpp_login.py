#!/usr/bin/python3
"""Log in to an XMPP server with slixmpp (SASL PLAIN, no TLS, loopback only).

Single login (default):
    XMPP_PASSWORD='pa:ss' xmpp_login.py --host localhost --port 5222 --jid alice@localhost
    printf %s 'pa:ss' | xmpp_login.py --port 5222 --jid alice@localhost --password-stdin
  prints exactly one line, "OK" or "FAIL <reason>", exit 0 / 1 (2 on usage errors).
  OK means SASL PLAIN succeeded and the session was bound (session_start).

Rate mode (--count N, optional --concurrency C, --max-seconds T):
  runs up to N logins (C at a time, each stopping at <success/>) until N are done or
  T seconds passed; prints "COUNT ok=<n> fail=<m> elapsed=<s> rate=<ok/s>" and exits 0
  if at least one login succeeded and none failed, else 1.

The password is taken byte-exact: from stdin (--password-stdin, all bytes, no newline
stripping) or from $XMPP_PASSWORD, decoded as UTF-8. slixmpp normally applies SASLprep
(NFKC, space mapping, ...) to the password; that is disabled here unless --saslprep is
given, so the server receives exactly the bytes passed in.

Must be run with a python that has slixmpp (Debian: /usr/bin/python3 + python3-slixmpp).
"""
import argparse
import asyncio
import ipaddress
import logging
import os
import sys
import time

HARD_MAX_COUNT = 100000
HARD_MAX_SECONDS = 120.0


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def parse_args():
    p = argparse.ArgumentParser(description="slixmpp SASL PLAIN login probe")
    p.add_argument("--host", default="127.0.0.1", help="address to connect to (loopback only)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--jid", required=True, help="user@domain (domain = XMPP virtual host)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per login (default 10)")
    p.add_argument("--saslprep", action="store_true", help="keep slixmpp's SASLprep of the password")
    p.add_argument("--count", type=int, default=0, help="rate mode: number of logins")
    p.add_argument("--concurrency", type=int, default=1, help="rate mode: logins in flight")
    p.add_argument("--max-seconds", type=float, default=20.0, help="rate mode: time bound")
    p.add_argument("--debug", action="store_true")
    return p.parse_args()


def read_password(args):
    if args.password_stdin:
        raw = sys.stdin.buffer.read()
    else:
        v = os.environb.get(b"XMPP_PASSWORD")
        if v is None:
            raise ValueError("no password: set XMPP_PASSWORD or use --password-stdin")
        raw = v
    return raw.decode("utf-8")  # strict: invalid UTF-8 is a usage error


def main():
    args = parse_args()
    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            out("FAIL usage: --host must be a loopback address")
            return 2
    except ValueError:
        out("FAIL usage: --host must be an IP address (127.0.0.1 or ::1)")
        return 2
    try:
        password = read_password(args)
    except (ValueError, UnicodeDecodeError) as e:
        out("FAIL usage: %s" % e)
        return 2
    args.timeout = max(0.1, min(args.timeout, HARD_MAX_SECONDS))

    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL,
                        stream=sys.stderr)
    try:
        import slixmpp
        import slixmpp.util.sasl.client as sasl_client
    except ImportError as e:
        out("FAIL slixmpp not importable by %s: %s" % (sys.executable, e))
        return 2
    # Every ClientXMPP() builds an SSL context and loads the system CA bundle (~70 ms here);
    # TLS is never used by this script, so build it once and share it.
    import ssl
    _ctx = ssl.create_default_context()
    ssl.create_default_context = lambda *a, **k: _ctx
    if not args.saslprep:
        # slixmpp runs every username/password through SASLprep; bypass it so the
        # password arrives byte-exact (bytes() in client.choose() encodes str as UTF-8).
        sasl_client.saslprep = lambda data, query=False: data if isinstance(data, str) else data.decode("utf-8")

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        if args.count > 0:
            return loop.run_until_complete(rate_mode(slixmpp, args, password))
        ok, reason = loop.run_until_complete(one_login(slixmpp, args, password, "session"))
        out("OK" if ok else "FAIL " + reason)
        return 0 if ok else 1
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=1))
        except Exception:
            pass
        loop.close()


async def one_login(slixmpp, args, password, until):
    """until = "session" (bind + session_start) or "auth" (<success/>)."""
    loop = asyncio.get_event_loop()
    done = loop.create_future()
    xmpp = slixmpp.ClientXMPP(args.jid, password, sasl_mech="PLAIN")
    xmpp["feature_mechanisms"].config["unencrypted_plain"] = True

    # Even with an explicit address, slixmpp 1.8 resolves its (empty) default domain through
    # aiodns, i.e. sends a DNS query to the resolv.conf servers (1 s timeout when offline).
    # Never resolve anything: always the given loopback address.
    async def no_dns(domain, port=None):
        return [(args.host, args.host, args.port)]
    xmpp.get_dns_records = no_dns

    def finish(ok, reason=""):
        if not done.done():
            done.set_result((ok, reason))

    def on_failed_auth(stanza=None):
        cond = ""
        try:
            cond = stanza["condition"] if stanza is not None else ""
        except Exception:
            pass
        finish(False, "auth failed" + (" (%s)" % cond if cond else ""))

    if until == "auth":
        xmpp.add_event_handler("auth_success", lambda _s: finish(True))
    else:
        xmpp.add_event_handler("session_start", lambda _s: finish(True))
    xmpp.add_event_handler("failed_auth", on_failed_auth)
    xmpp.add_event_handler("failed_all_auth", lambda _s=None: finish(False, "auth failed (no mechanism left)"))
    xmpp.add_event_handler("connection_failed", lambda e=None: finish(False, "connection failed: %s" % (e,)))
    xmpp.add_event_handler("disconnected", lambda _e=None: finish(False, "disconnected"))
    xmpp.add_event_handler("stream_error", lambda e=None: finish(False, "stream error: %s" % (e,)))

    try:
        xmpp.connect(address=(args.host, args.port), use_ssl=False,
                     force_starttls=False, disable_starttls=True)
        try:
            return await asyncio.wait_for(done, args.timeout)
        except asyncio.TimeoutError:
            return (False, "timeout after %gs" % args.timeout)
    finally:
        xmpp.auto_reconnect = False
        try:
            xmpp.abort()
        except Exception:
            pass


async def rate_mode(slixmpp, args, password):
    count = max(1, min(args.count, HARD_MAX_COUNT))
    conc = max(1, min(args.concurrency, 256, count))
    max_s = max(0.1, min(args.max_seconds, HARD_MAX_SECONDS))
    started = time.monotonic()
    deadline = started + max_s
    state = {"next": 0, "ok": 0, "fail": 0, "first_fail": ""}

    async def worker():
        while state["next"] < count and time.monotonic() < deadline:
            state["next"] += 1
            ok, reason = await one_login(slixmpp, args, password, "auth")
            if ok:
                state["ok"] += 1
            else:
                state["fail"] += 1
                state["first_fail"] = state["first_fail"] or reason

    await asyncio.gather(*(worker() for _ in range(conc)))
    elapsed = time.monotonic() - started
    rate = state["ok"] / elapsed if elapsed > 0 else 0.0
    out("COUNT ok=%d fail=%d elapsed=%.3f rate=%.1f" % (state["ok"], state["fail"], elapsed, rate)
        + (" first_fail=%s" % state["first_fail"].replace(" ", "_") if state["first_fail"] else ""))
    return 0 if state["ok"] > 0 and state["fail"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
