"""Shared helpers for the HTTP front-door integration tests.

Raw TLS requests with header parsing, the checks every error response must pass (JSON body,
status and messages from src/base/err.c, security headers), waiting for a peer to close,
polling `kura status`, and small wrappers around `openssl s_client` / `openssl s_server`.
Nothing here sleeps to synchronise: waits poll a condition until a deadline.
"""
import json
import os
import re
import socket
import ssl
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from conftest import free_port, run_kura, tls_connect

SOURCE_ROOT = Path(os.environ.get("KURA_SOURCE_ROOT") or Path(__file__).resolve().parents[2])

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


# ---- the error table, read from the source (the one place messages are defined) -----------

def _c_strings(text):
    """Joins adjacent C string literals ("a" "b" -> "ab"); kura's messages use no escapes."""
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', text))


def load_err_table():
    """Maps each wire name in src/base/err.c to (status, English message, Japanese message)."""
    src = (SOURCE_ROOT / "src" / "base" / "err.c").read_text(encoding="utf-8")
    lit = r'(?:"(?:[^"\\]|\\.)*"\s*)+'
    entry = re.compile(r'\{\s*KURA_E\w+\s*,\s*"(\w+)"\s*,\s*(\d+)\s*,\s*(' + lit + r')\s*,\s*('
                       + lit + r')\s*\}')
    table = {m.group(1): (int(m.group(2)), _c_strings(m.group(3)), _c_strings(m.group(4)))
             for m in entry.finditer(src)}
    assert "bad_path" in table and "not_found" in table, "could not parse src/base/err.c"
    return table


ERRORS = load_err_table()


# ---- responses -----------------------------------------------------------------------------

class Response:
    """A parsed raw HTTP response."""

    def __init__(self, head, body):
        self.raw_head = head
        self.body = body
        lines = head.split(b"\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d{3})", lines[0]) if lines and lines[0] else None
        self.status = int(m.group(1)) if m else None
        self.headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if sep:
                self.headers.setdefault(name.decode("latin-1").strip().lower(), []).append(
                    value.decode("latin-1").strip())

    def header(self, name):
        """The single value of a header (asserting it occurs exactly once), or None."""
        values = self.headers.get(name.lower())
        if values is None:
            return None
        assert len(values) == 1, f"header {name} repeated: {values}"
        return values[0]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"<Response {self.status} {self.raw_head[:400]!r} {self.body[:300]!r}>"


def send_raw(port, payload, timeout=15):
    """One request over a fresh TLS connection; returns a Response (status None if none came)."""
    with RawConn(port, timeout=timeout) as c:
        c.send(payload)
        resp = c.response(timeout)
    return resp if resp is not None else Response(b"", b"")


def host_header(port):
    return f"Host: localhost:{port}\r\n".encode()


def request_bytes(port, method="GET", target="/healthz", headers=b"", body=b"", host=True):
    """Builds a raw HTTP/1.1 request. target and headers may be bytes or str."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    if isinstance(headers, str):
        headers = headers.encode("latin-1")
    host_line = host_header(port) if host else b""
    return method.encode() + b" " + target + b" HTTP/1.1\r\n" + host_line + headers + b"\r\n" + body


def assert_security_headers(resp):
    hsts = resp.header("strict-transport-security")
    assert hsts and re.match(r"^max-age=\d+", hsts), f"no HSTS header: {resp!r}"
    for name, want in SECURITY_HEADERS.items():
        assert resp.header(name) == want, f"{name}: want {want!r}, got {resp.header(name)!r}"
    rid = resp.header("x-request-id")
    assert rid and re.match(r"^[A-Za-z0-9._-]{1,64}$", rid), f"bad X-Request-Id: {resp!r}"


def assert_error(resp, status, code, lang="en"):
    """Checks an error response completely: status, JSON body with code/message/request_id
    (message from err.c in the negotiated language), Content-Type, Content-Language and every
    security header."""
    assert resp.status == status, f"want {status} {code}, got {resp!r}"
    ctype = resp.header("content-type")
    assert ctype and ctype.split(";")[0].strip().lower() == "application/json", \
        f"error body is not JSON (Content-Type {ctype!r}): {resp!r}"
    try:
        doc = resp.json()
    except ValueError as e:
        raise AssertionError(f"error body is not valid JSON ({e}): {resp!r}") from None
    assert set(doc) == {"error"}, doc
    err = doc["error"]
    assert set(err) == {"code", "message", "request_id"}, doc
    assert err["code"] == code, f"want code {code}, got {doc}"
    want_status, en, ja = ERRORS[code]
    assert want_status == status, f"err.c maps {code} to {want_status}, test expects {status}"
    assert err["message"] == (ja if lang == "ja" else en), doc
    assert resp.header("content-language") == lang, resp
    assert_security_headers(resp)
    assert err["request_id"] == resp.header("x-request-id"), resp
    return doc


# ---- connections ---------------------------------------------------------------------------

class ReadTimeout(AssertionError):
    """Nothing arrived and the peer did not close before the deadline."""


class RawConn:
    """A TLS connection for hand-written requests, reading responses exactly (pipelining-safe:
    bytes after one response stay buffered for the next)."""

    def __init__(self, port, timeout=15, ctx=None):
        self.sock = tls_connect(port, ctx=ctx, timeout=timeout)
        self.buf = b""
        self.eof = False

    @classmethod
    def wrap(cls, sock):
        """A RawConn over an already connected TLS socket."""
        c = cls.__new__(cls)
        c.sock, c.buf, c.eof = sock, b"", False
        return c

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Reads more bytes into buf; False on EOF or connection error. Fails on timeout."""
        if self.eof:
            return False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ReadTimeout(f"no data and no close before the deadline; have "
                                  f"{self.buf[:200]!r}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ssl.SSLError, ConnectionError, OSError):
                data = b""
            if not data:
                self.eof = True
                return False
            self.buf += data
            return True

    def response(self, timeout=15, head_only=False):
        """The next response, or None when the peer closed before sending one. head_only: the
        request was HEAD (no body follows whatever Content-Length says)."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                assert not self.buf, f"connection closed inside a response head: {self.buf!r}"
                return None
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        resp = Response(head, b"")
        if head_only:
            return resp
        want = int(resp.header("content-length") or 0)
        while len(self.buf) < want:
            if not self._fill(deadline):
                raise AssertionError(f"connection closed inside a body: {resp!r}")
        resp.body, self.buf = self.buf[:want], self.buf[want:]
        return resp

    def rest_until_close(self, timeout=15):
        """Everything the peer still sends until it closes; fails if it does not close."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        rest, self.buf = self.buf, b""
        return rest

    def still_open(self, within):
        """True when the peer has not closed the connection within `within` seconds."""
        try:
            self._fill(time.monotonic() + within)
        except ReadTimeout:
            return True  # still open and quiet
        return not self.eof


def wait_closed(sock, timeout):
    """Reads and discards until the peer closes a (TLS or plain) socket; returns the seconds it
    took. Fails if the connection is still open after timeout seconds."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"connection still open after {timeout}s")
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ssl.SSLError, ConnectionError, OSError):
            return time.monotonic() - start
        if not data:
            return time.monotonic() - start


def wait_until(pred, timeout, what, interval=0.02):
    """Polls pred() until it returns a truthy value (returned) or fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)  # polling interval, not synchronisation
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def status(server):
    """`kura status` of a running server, as a dict."""
    proc = run_kura("status", "--data", str(server.data), timeout=30)
    assert proc.returncode == 0, f"kura status failed: {proc.stdout}{proc.stderr}"
    return json.loads(proc.stdout)


def connect_refused(port):
    """True when a TCP connect to the port is refused."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        # The connect reached the accept backlog just as the listening socket closed: not a
        # refusal yet; the caller polls again.
        return False


# ---- openssl ------------------------------------------------------------------------------

def s_client(port, *args, timeout=20):
    """Runs `openssl s_client` against 127.0.0.1:port; returns (protocol, cipher, output).
    protocol/cipher are None when no session was established."""
    proc = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                           "-servername", "localhost", *args], input="", capture_output=True,
                          text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    # "New, TLSv1.3, Cipher is X" always appears; its version is wrong for TLS 1.1 (OpenSSL
    # prints TLSv1.0), so the session block's "Protocol :" wins when it is printed.
    new = re.search(r"^New, ([^,\s]+), Cipher is (\S+)", out, re.M)
    if not new or new.group(2) in ("0000", "(NONE)"):
        return None, None, out
    proto = re.search(r"^\s*Protocol\s*:\s*(\S+)", out, re.M)
    return (proto.group(1) if proto else new.group(1)), new.group(2), out


@contextmanager
def openssl_server(cert, key, *args):
    """A permissive `openssl s_server` (the control peer for TLS client tests): proves that the
    client tool really offers what a test says the kura server refuses."""
    port = free_port()
    proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
                             str(cert), "-key", str(key), "-www", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()  # "Using default temp DH parameters", then "ACCEPT"
        while line and "ACCEPT" not in line:
            line = proc.stdout.readline()
        assert "ACCEPT" in line, "openssl s_server did not start"
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
