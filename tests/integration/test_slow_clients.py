"""Slow-client defence (src/http/conns.c) and connection limits.

The sleeps here are inside *clients* that simulate slow senders: that pacing is the behaviour
under test. Waiting for the server is always "read until the peer closes, with a deadline".
"""
import resource
import socket
import ssl
import time

import pytest

from conftest import tls_connect
from helpers import RawConn, request_bytes, send_raw, status, wait_closed, wait_until

HEADER_TIMEOUT = 2


def upper_bound(timeout):
    return 2 * timeout + 1


@pytest.fixture
def short_timeout_server(instance):
    instance.init()
    instance.set("http", "header_timeout", str(HEADER_TIMEOUT))
    return instance.serve()


def trickle_until_closed(sock, data, interval, limit):
    """Sends data one byte every `interval` seconds until the peer closes; returns (seconds
    until the close, bytes sent, bytes received). The wait between bytes is a read with a
    timeout, so the close is seen the moment it happens. Fails if still open after limit."""
    start = time.monotonic()
    sent, got = 0, b""
    while True:
        if time.monotonic() - start > limit:
            raise AssertionError(f"slow sender still connected after {limit}s ({sent} bytes)")
        if sent < len(data):
            try:
                sock.sendall(data[sent:sent + 1])
                sent += 1
            except (ssl.SSLError, OSError):
                return time.monotonic() - start, sent, got
        sock.settimeout(interval)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ssl.SSLError, OSError):
            return time.monotonic() - start, sent, got
        if not chunk:
            return time.monotonic() - start, sent, got
        got += chunk


def test_slow_header_sender_disconnected(short_timeout_server):
    server = short_timeout_server
    request = request_bytes(server.port, "GET", "/healthz", b"X-Padding: " + b"p" * 40 + b"\r\n")
    sock = tls_connect(server.port)
    # first byte, then check that others are served while the slow client holds its connection
    sock.sendall(request[:1])
    t0 = time.monotonic()
    resp = send_raw(server.port, request_bytes(server.port))
    assert resp.status == 200, resp
    assert time.monotonic() - t0 < 1.0, "a normal request was delayed by the slow sender"
    elapsed, sent, got = trickle_until_closed(sock, request[1:], 1.0,
                                              upper_bound(HEADER_TIMEOUT) + 2)
    sock.close()
    assert got == b"", f"the slow sender got an answer: {got[:200]!r}"
    assert sent < len(request) - 1, "the whole request went through"
    # counted from accept (a little before t0): disconnected at header_timeout + one sweep
    assert elapsed <= upper_bound(HEADER_TIMEOUT), f"disconnected only after {elapsed:.2f}s"
    assert elapsed >= HEADER_TIMEOUT - 1, f"disconnected too early ({elapsed:.2f}s)"
    assert send_raw(server.port, request_bytes(server.port)).status == 200


def test_slow_header_sender_does_not_block_others(short_timeout_server):
    """Several concurrent slow senders while normal requests keep being answered promptly."""
    server = short_timeout_server
    slow = [tls_connect(server.port) for _ in range(20)]
    for s in slow:
        s.sendall(b"G")
    start = time.monotonic()
    latencies = []
    while time.monotonic() - start < HEADER_TIMEOUT - 0.5:
        t = time.monotonic()
        assert send_raw(server.port, request_bytes(server.port)).status == 200
        latencies.append(time.monotonic() - t)
    assert max(latencies) < 1.0, latencies
    for s in slow:
        wait_closed(s, upper_bound(HEADER_TIMEOUT))
        s.close()


def test_idle_connection_closed(short_timeout_server):
    server = short_timeout_server
    sock = tls_connect(server.port)
    start = time.monotonic()
    elapsed = wait_closed(sock, upper_bound(HEADER_TIMEOUT) + 2)
    sock.close()
    assert HEADER_TIMEOUT - 1 <= elapsed <= upper_bound(HEADER_TIMEOUT), elapsed
    assert time.monotonic() - start <= upper_bound(HEADER_TIMEOUT)


def test_idle_tcp_without_tls_handshake_closed(short_timeout_server):
    """A connection that never even starts the TLS handshake is bounded the same way."""
    server = short_timeout_server
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        elapsed = wait_closed(sock, upper_bound(HEADER_TIMEOUT) + 2)
    assert elapsed <= upper_bound(HEADER_TIMEOUT), elapsed


def test_idle_keepalive_closed_after_response(short_timeout_server):
    """The header deadline restarts after each response and bounds idle keep-alive."""
    server = short_timeout_server
    with RawConn(server.port) as c:
        # keep the connection busy past one header_timeout with prompt requests...
        start = time.monotonic()
        while time.monotonic() - start < HEADER_TIMEOUT + 0.5:
            c.send(request_bytes(server.port))
            resp = c.response()
            assert resp is not None and resp.status == 200, resp
        # ...then go idle: closed header_timeout after the last response
        idle_start = time.monotonic()
        assert c.rest_until_close(timeout=upper_bound(HEADER_TIMEOUT) + 2) == b""
        assert time.monotonic() - idle_start <= upper_bound(HEADER_TIMEOUT)


# ---- upload rate ----------------------------------------------------------------------------

@pytest.fixture
def rate_server(instance):
    instance.init()
    instance.set("http", "min_upload_rate", "1000")
    instance.set("http", "upload_rate_window", "2")
    instance.set("http", "max_body_bytes", "1048576")
    return instance.serve()


def test_slow_body_sender_cut_off(rate_server):
    server = rate_server
    sock = tls_connect(server.port)
    sock.sendall(request_bytes(server.port, "POST", "/_test/echo", b"Content-Length: 100000\r\n"))
    start = time.monotonic()
    sent, got = 0, b""
    closed_after = None
    while time.monotonic() - start < 12:
        # 100 bytes every 0.5 s: 200 B/s, a fifth of min_upload_rate
        try:
            sock.sendall(b"x" * 100)
            sent += 100
        except (ssl.SSLError, OSError):
            closed_after = time.monotonic() - start
            break
        sock.settimeout(0.5)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ssl.SSLError, OSError):
            chunk = b""
        if not chunk:
            closed_after = time.monotonic() - start
            break
        got += chunk
    sock.close()
    assert closed_after is not None, f"slow body sender not cut off ({sent} bytes sent)"
    assert b"200 OK" not in got, got[:200]
    # the first full window (2 s) shows the rate is too low; one sweep later it is cut
    assert closed_after <= 2 * 2 + 1, closed_after
    assert send_raw(server.port, request_bytes(server.port)).status == 200


def test_steady_body_sender_completes(rate_server):
    server = rate_server
    chunk, n = b"y" * 1024, 20  # 1 KiB every 0.25 s = 4 KiB/s for 5 s
    with RawConn(server.port, timeout=30) as c:
        c.send(request_bytes(server.port, "POST", "/_test/echo",
                             f"Content-Length: {len(chunk) * n}\r\n"))
        next_send = time.monotonic()
        for _ in range(n):
            delay = next_send - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # client pacing: the slow-but-honest upload under test
            c.send(chunk)
            next_send += 0.25
        resp = c.response(timeout=15)
    assert resp is not None, "steady uploader was cut off"
    assert resp.status == 200, resp
    assert resp.json() == {"bytes": len(chunk) * n}


# ---- many connections -----------------------------------------------------------------------

def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft >= want, f"cannot open {want} descriptors (RLIMIT_NOFILE {soft})"


def test_500_simultaneous_connections(instance):
    instance.init()
    instance.set("http", "per_ip_connections", "0")
    instance.set("http", "max_connections", "1024")
    server = instance.serve()
    n = 500
    raise_nofile(n + 200)
    socks = []
    try:
        for _ in range(n):
            socks.append(tls_connect(server.port, timeout=30))
        # all 500 are open at the same time on the server side
        wait_until(lambda: status(server)["connections"] >= n, 15, f"{n} open connections")
        req = request_bytes(server.port, "GET", "/healthz")
        for s in socks:
            s.sendall(req)
        statuses = []
        for s in socks:
            resp = RawConn.wrap(s).response(timeout=30)
            statuses.append(resp.status if resp else None)
        assert statuses.count(200) == n, {x: statuses.count(x) for x in set(statuses)}
    finally:
        for s in socks:
            s.close()
    assert server.proc.poll() is None, "server died"
    assert send_raw(server.port, request_bytes(server.port)).status == 200


def test_per_ip_limit_300_connections(server):
    """Default per_ip_connections = 128: excess sockets are closed, the server survives, and
    /healthz answers once the flood is gone."""
    n, limit = 300, 128
    raise_nofile(n + 200)
    socks, refused = [], 0
    try:
        for _ in range(n):
            try:
                socks.append(tls_connect(server.port, timeout=10))
            except (ssl.SSLError, OSError):
                refused += 1
        assert len(socks) == limit, f"{len(socks)} TLS connections from one address accepted"
        assert refused == n - limit, refused
        st = status(server)
        assert st["connections"] <= limit, st
        # the accepted ones still work
        for s in socks[:5]:
            s.sendall(request_bytes(server.port))
            resp = RawConn.wrap(s).response()
            assert resp is not None and resp.status == 200, resp
    finally:
        for s in socks:
            s.close()
    assert server.proc.poll() is None, "server died"
    wait_until(lambda: status(server)["connections"] == 0, 15, "connections to close")
    assert send_raw(server.port, request_bytes(server.port)).status == 200
