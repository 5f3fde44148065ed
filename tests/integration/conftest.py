"""Fixtures for kura's integration tests.

Each test gets its own data folder (`kura init`) and, when it asks for one, its own running
`kura serve` on a free loopback port. Readiness is the server's own "event=listening" log line,
never a sleep. At teardown the server gets SIGTERM and must exit 0 with no sanitizer report in
its log, so every test also checks for memory errors and leaks in the code it exercised.
"""
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

KURA_BIN = os.environ.get("KURA_BIN") or str(
    Path(__file__).resolve().parents[2] / "build-asan" / "kura")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")
START_TIMEOUT = 60  # seconds; an ASan build on a loaded 2-core machine can be slow to start


def run_kura(*args, input=None, timeout=120, check=False):
    """Runs the kura CLI and returns the CompletedProcess (text mode)."""
    proc = subprocess.run([KURA_BIN, *args], input=input, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"kura {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_conf(data, section, key, value):
    """Replaces `key = ...` in [section] of DATA/kura.conf (init writes every key)."""
    path = Path(data) / "kura.conf"
    lines = path.read_text().splitlines()
    current, done = None, False
    for i, line in enumerate(lines):
        m = re.match(r"^\[(\w+)\]\s*$", line)
        if m:
            current = m.group(1)
        elif current == section and re.match(rf"^{key}\s*=", line):
            lines[i] = f"{key} = {value}"
            done = True
    assert done, f"[{section}] {key} not found in kura.conf"
    path.write_text("\n".join(lines) + "\n")


class Server:
    """A running `kura serve`."""

    def __init__(self, data, port):
        self.data = Path(data)
        self.port = port
        self.url = f"https://localhost:{port}"
        self.proc = None
        self.log_path = self.data.parent / "serve.log"
        self.ca = str(self.data / "keys" / "tls.crt")

    def start(self, extra_args=(), expect_ready=True, env=None):
        self._log = open(self.log_path, "ab")
        # Servers of one instance share the log file: look only at what this one writes.
        self._log_start = self._log.tell()
        self.proc = subprocess.Popen(
            [KURA_BIN, "serve", "--data", str(self.data), "--listen", f"127.0.0.1:{self.port}",
             *extra_args], stdout=self._log, stderr=self._log,
            env={**os.environ, **env} if env else None)
        if expect_ready:
            self.wait_for_log("event=listening", START_TIMEOUT)
        return self

    def log(self):
        with open(self.log_path, "rb") as f:
            f.seek(getattr(self, "_log_start", 0))
            return f.read().decode(errors="replace")

    def wait_for_log(self, needle, timeout):
        """Waits until needle appears in the log, the process exits, or timeout passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"kura exited ({self.proc.returncode}) before '{needle}':\n"
                                     + self.log())
            time.sleep(0.02)  # polling a file; the event itself is the log line
        raise AssertionError(f"no '{needle}' within {timeout}s:\n" + self.log())

    def session(self, lang=None):
        s = requests.Session()
        # Without this, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE or proxy variables in the
        # environment override the session's settings (psf/requests#3829).
        s.trust_env = False
        s.verify = self.ca
        if lang:
            s.headers["Accept-Language"] = lang
        return s

    def get(self, path, **kw):
        return self.session().get(self.url + path, timeout=30, **kw)

    def ctl(self, *args):
        return run_kura(*args, "--data", str(self.data), check=True)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Stops the server; returns its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()

    def assert_clean_log(self):
        text = self.log()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, f"sanitizer report in server log:\n{text}"


class Instance:
    """A data folder made by `kura init`, with helpers to configure and serve it."""

    def __init__(self, root):
        self.root = Path(root)
        self.data = self.root / "data"
        self.otp_file = self.root / "otp"
        self.port = free_port()
        self.servers = []

    def init(self, *extra):
        run_kura("init", "--data", str(self.data), "--admin", "admin", "--admin-password-file",
                 str(self.otp_file), *extra, check=True)
        self.set("http", "public_url", f"https://localhost:{self.port}")
        return self

    def set(self, section, key, value):
        set_conf(self.data, section, key, value)

    def serve(self, extra_args=(), expect_ready=True, env=None):
        s = Server(self.data, self.port)
        self.servers.append(s)
        return s.start(extra_args, expect_ready, env)

    def cleanup(self):
        for s in self.servers:
            if s.proc and s.proc.poll() is None:
                code = s.stop()
                assert code == 0, f"kura serve exited {code} on SIGTERM:\n{s.log()}"
            if s.proc:
                s.assert_clean_log()


@pytest.fixture
def instance():
    with tempfile.TemporaryDirectory(prefix="kura-it-") as root:
        inst = Instance(root)
        try:
            yield inst
        finally:
            inst.cleanup()


@pytest.fixture
def server(instance):
    """An initialised data folder with a running server using the default configuration."""
    instance.init()
    return instance.serve()


# ---- raw TLS access, for requests that no well-behaved client library will send -----------

def tls_context(min_version=ssl.TLSVersion.TLSv1_2, max_version=None, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = min_version
    if max_version:
        ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def tls_connect(port, ctx=None, timeout=30):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return (ctx or tls_context()).wrap_socket(raw, server_hostname="localhost")


def read_response(sock, timeout=30):
    """Reads one HTTP response (headers + Content-Length body) or until the peer closes."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, ConnectionError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    want = int(m.group(1)) if m else 0
    while len(body) < want:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, ConnectionError, socket.timeout):
            break
        if not chunk:
            break
        body += chunk
    return head, body


def raw_request(port, payload, timeout=30):
    """Sends raw bytes over TLS and returns (status or None, headers bytes, body bytes)."""
    with tls_connect(port, timeout=timeout) as s:
        s.sendall(payload)
        head, body = read_response(s, timeout)
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(m.group(1)) if m else None), head, body


def error_code(body):
    return json.loads(body)["error"]["code"]
