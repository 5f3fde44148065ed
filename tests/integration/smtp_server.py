"""A small SMTP relay for kura's mail tests, built on Debian's python3-aiosmtpd.

It listens on 127.0.0.1:<port>, requires STARTTLS (or speaks implicit TLS) with the given
certificate, optionally requires AUTH (PLAIN/LOGIN, only after TLS), and stores each accepted
message as <n>.eml plus <n>.json (envelope, EHLO name, whether STARTTLS was used, the TLS version,
the AUTH user) in a directory, the .json written last and atomically so that a poller never sees half a
record. It can be told to answer the next N messages with 451 (temporary) or 550 (permanent)
after DATA. Used in-process by test_mail.py; also runnable on its own:

    /usr/bin/python3 smtp_server.py --port 2525 --dir out --cert c.pem --key k.pem \
        [--auth user:password] [--fail 451:2] [--implicit]
"""
import argparse
import json
import os
import ssl
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

FAIL_REPLIES = {
    451: "451 4.3.0 Temporary failure in the test relay, try again later",
    550: "550 5.7.1 Message refused by the test relay",
}


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        return self.server._data(smtp, session, envelope)


class SmtpServer:
    """The relay. start() binds and serves on a thread; stop() closes the port."""

    def __init__(self, port, outdir, cert, key, require_starttls=True, auth=None,
                 implicit=False):
        self.port = port
        self.outdir = Path(outdir)
        self.outdir.mkdir(parents=True, exist_ok=True)
        self.cert, self.key = cert, key
        self.require_starttls = require_starttls
        self.auth = auth  # {"user": "password"} or None
        self.implicit = implicit
        self.lock = threading.Lock()
        self.fail_queue = []  # [code, remaining]
        self.refused = []  # (code, rcpt_tos) of messages answered with a failure
        self.auth_failures = 0
        self.count = 0
        self.controller = None

    def fail_next(self, code, n=1):
        """Answers the next n messages with code (451 or 550) after DATA."""
        assert code in FAIL_REPLIES
        with self.lock:
            self.fail_queue.append([code, n])

    def _context(self):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def _authenticator(self, smtp, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and self.auth is not None and
              self.auth.get(auth_data.login.decode()) == auth_data.password.decode())
        if not ok:
            with self.lock:
                self.auth_failures += 1
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=auth_data)

    def _data(self, smtp, session, envelope):
        with self.lock:
            if self.fail_queue:
                code = self.fail_queue[0][0]
                self.fail_queue[0][1] -= 1
                if self.fail_queue[0][1] == 0:
                    self.fail_queue.pop(0)
                self.refused.append((code, list(envelope.rcpt_tos)))
                return FAIL_REPLIES[code]
            self.count += 1
            n = self.count
        # session.ssl is set only by STARTTLS; the transport knows about implicit TLS too.
        starttls = session.ssl is not None
        obj = smtp.transport.get_extra_info("ssl_object") if smtp.transport else None
        version = obj.version() if obj is not None else None
        auth_user = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            auth_user = session.auth_data.login.decode()
        record = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                  "starttls": starttls, "tls_version": version, "auth_user": auth_user,
                  "helo": session.host_name,
                  "eml": f"{n}.eml"}
        (self.outdir / f"{n}.eml").write_bytes(envelope.original_content or envelope.content)
        tmp = self.outdir / f".{n}.json.tmp"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self.outdir / f"{n}.json")
        return "250 2.0.0 Message accepted for delivery"

    def start(self):
        kwargs = {}
        if self.implicit:
            kwargs["ssl_context"] = self._context()
        else:
            kwargs["tls_context"] = self._context()
            kwargs["require_starttls"] = self.require_starttls
        if self.auth is not None:
            kwargs.update(authenticator=self._authenticator, auth_required=True,
                          auth_require_tls=True)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     server_hostname="relay.test", **kwargs)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def records(self):
        """The accepted messages so far, in order, each as its .json dict plus "raw" bytes."""
        out = []
        for p in sorted(self.outdir.glob("*.json"), key=lambda p: int(p.stem)):
            rec = json.loads(p.read_text())
            rec["raw"] = (self.outdir / rec["eml"]).read_bytes()
            out.append(rec)
        return out

    def wait_records(self, n, timeout=60):
        """Polls the output directory until n messages are stored, or fails at the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            recs = self.records()
            if len(recs) >= n:
                return recs
            time.sleep(0.02)  # polling the directory; the files are the event
        raise AssertionError(f"{n} message(s) not received within {timeout}s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--auth", help="user:password")
    ap.add_argument("--fail", action="append", default=[], help="CODE:N, e.g. 451:2")
    ap.add_argument("--implicit", action="store_true")
    args = ap.parse_args()
    auth = dict([args.auth.split(":", 1)]) if args.auth else None
    server = SmtpServer(args.port, args.dir, args.cert, args.key, auth=auth,
                        implicit=args.implicit)
    for f in args.fail:
        code, n = f.split(":")
        server.fail_next(int(code), int(n))
    server.start()
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
